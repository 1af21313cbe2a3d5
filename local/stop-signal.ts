/** Resolves at the first SIGINT or SIGTERM (Ctrl-C, or a service manager stopping the program). */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolveStop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
