/**
 * Whether the daemon's listener works, as `status` shows it and the log says it: a listener that failed to
 * start, or whose connection is down, must not read as "listening". Only changes of state are logged: a
 * server that stays down is said once (and again when it comes back), not at every reconnection attempt.
 */
export type ListenerKind = "xmpp" | "sqs" | "poll";

export interface ListenerState {
  /** What the folder's settings ask for (`cloudbridge.listen`, resolved from auto). */
  configured: ListenerKind;
  /** What the daemon actually listens with: the configured one, or polling when that failed to start. */
  active: ListenerKind;
  /** listening: it works; connecting: not yet (or again) up; down: its connection fails and is retried; failed: it could not start. */
  state: "listening" | "connecting" | "down" | "failed";
  /** Why it is down or failed, in words. */
  error?: string;
  /** When it entered this state (ISO time). */
  since: string;
}

export class ListenerHealth {
  private current: ListenerState;
  private readonly onChange: (state: ListenerState, previous: ListenerState) => void;

  constructor(configured: ListenerKind, onChange: (state: ListenerState, previous: ListenerState) => void) {
    this.current = { configured, active: configured, state: "connecting", since: new Date().toISOString() };
    this.onChange = onChange;
  }

  get state(): ListenerState {
    return this.current;
  }

  /**
   * Records the listener's state; calls onChange only when the state or the active listener changed (a
   * connection that keeps failing, each time a little differently, is still one state: the first error is kept).
   */
  set(state: ListenerState["state"], details: { error?: string; active?: ListenerKind } = {}): void {
    const active = details.active ?? this.current.active;
    const error = state === "listening" || state === "connecting" ? undefined : details.error;
    if (state === this.current.state && active === this.current.active) return;
    const previous = this.current;
    this.current = { configured: previous.configured, active, state, ...(error ? { error } : {}), since: new Date().toISOString() };
    this.onChange(this.current, previous);
  }
}
