// The cloudbridge page: Preact components written with htm (tagged templates, no build step). All data
// comes from the daemon: the folders' status, pushed by server-sent events whenever it changes, and each
// panel's own JSON view, read when the panel opens and again when the folder's history moves.
import { h, render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import htm from "htm";

const html = htm.bind(h);
const TOKEN = document.querySelector('meta[name="cloudbridge-token"]').content;
const TABS = ["folders", "machines", "transfers", "changes", "conflicts", "versions", "bucket"];

async function api(path, body) {
  const response = await fetch(
    path,
    body === undefined
      ? {}
      : {
          method: "POST",
          headers: { "content-type": "application/json", "x-cloudbridge-token": TOKEN },
          body: JSON.stringify(body),
        },
  );
  const value = await response.json();
  if (!response.ok) throw new Error(value.error ?? response.statusText);
  return value;
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
const rate = (n) => (n > 0 ? `${(n / 1e6).toFixed(2)} MB/s` : "–");
const eta = (s) => (s === undefined ? "–" : s < 60 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

/** Reads `path` when the panel opens and whenever `key` (the folder's head, its state) changes. */
function useView(path, key) {
  const [state, setState] = useState({ loading: true });
  const reload = useCallback(() => {
    api(path).then(
      (data) => setState({ data }),
      (error) => setState({ error: error.message }),
    );
  }, [path]);
  useEffect(reload, [path, key]);
  return [state, reload];
}

function Shown({ state, children }) {
  if (state.error) return html`<p class="error">${state.error}</p>`;
  if (state.loading) return html`<p class="muted">Loading…</p>`;
  return children(state.data);
}

function Action({ label, run, kind = "", test }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState();
  const click = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await run();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action"
    ><button class=${kind} disabled=${busy} onClick=${click} data-test=${test}>${label}</button
    >${error && html`<span class="error">${error}</span>`}</span
  >`;
}

function FolderCard({ folder }) {
  const base = `/api/folders/${folder.agent}`;
  const [up, setUp] = useState(folder.limits.upload / 1e6);
  const [down, setDown] = useState(folder.limits.download / 1e6);
  const daemon = folder.daemon;
  const listener = daemon?.listener;
  const queued = (direction) => folder.transfers.queued.filter((q) => q.direction === direction).length;
  return html`<section class="card" data-test="folder" data-state=${folder.state}>
    <h2>${folder.folder} <span class=${`badge ${folder.state}`} data-test="state">${folder.state}</span></h2>
    <dl>
      <dt>Remote</dt>
      <dd>${folder.remote}</dd>
      <dt>This machine</dt>
      <dd>${folder.description}</dd>
      <dt>Listener</dt>
      <dd data-test="listener">
        ${
          !daemon
            ? "no daemon"
            : !daemon.running
              ? "daemon stopped"
              : listener
                ? `${listener.active} ${listener.state}${listener.error ? ` (${listener.error})` : ""}`
                : "unknown"
        }
      </dd>
      <dt>Last round</dt>
      <dd>${when(daemon?.lastSync)}${daemon?.lastError ? html` <span class="error">${daemon.lastError}</span>` : ""}</dd>
      <dt>Not in the cloud yet</dt>
      <dd data-test="unpushed">${folder.unpushed.commits} commit(s), ${folder.localChanges?.length ?? "?"} local change(s)</dd>
      <dt>Transfers</dt>
      <dd>${folder.transfers.active.length} moving, ${queued("up")} up and ${queued("down")} down queued</dd>
      ${
        folder.paused &&
        html`<dt>Paused</dt>
          <dd>since ${when(folder.paused.since)}</dd>`
      }
    </dl>
    ${
      folder.refused.length > 0 &&
      html`<h3>Refused paths</h3>
        <ul class="refused">
          ${folder.refused.map((r) => html`<li><code>${r.path}</code> (${r.kind}): ${r.reason}</li>`)}
        </ul>`
    }
    <div class="actions">
      ${
        folder.paused
          ? html`<${Action} label="Resume" test="resume" run=${() => api(`${base}/resume`, {})} />`
          : html`<${Action} label="Pause" test="pause" run=${() => api(`${base}/pause`, {})} />`
      }
      <${Action} label="Sync now" test="sync" run=${() => api(`${base}/sync`, {})} />
    </div>
    <div class="actions">
      <label
        >Wanted content
        <select data-test="wanted" onChange=${(e) => api(`${base}/wanted`, { wanted: e.target.value })}>
          ${["everything", "nothing"].map((w) => html`<option value=${w} selected=${w === folder.wanted}>${w}</option>`)}
        </select>
      </label>
      <label
        >Upload limit (MB/s, 0 = none)
        <input type="number" min="0" step="0.1" value=${up} data-test="limit-up" onInput=${(e) => setUp(e.target.value)}
      /></label>
      <label
        >Download limit
        <input type="number" min="0" step="0.1" value=${down} data-test="limit-down" onInput=${(e) => setDown(e.target.value)}
      /></label>
      <${Action}
        label="Set limits"
        test="limits"
        run=${() => api(`${base}/limits`, { upload: Number(up) * 1e6, download: Number(down) * 1e6 })}
      />
    </div>
  </section>`;
}

function Machines({ folder }) {
  const [state] = useView(`/api/folders/${folder.agent}/machines`, folder.head);
  return html`<${Shown} state=${state}
    >${(machines) =>
      html`<table data-test="machines">
        <thead>
          <tr>
            <th>Machine</th>
            <th>Online</th>
            <th>Last seen</th>
            <th>Listens by</th>
            <th>Holds</th>
          </tr>
        </thead>
        <tbody>
          ${machines.map(
            (m) =>
              html`<tr>
                <td>${m.description}${m.here ? " (this one)" : ""}</td>
                <td><span class=${`dot ${m.online ? "on" : "off"}`}></span>${m.online ? "online" : "offline"}</td>
                <td>${m.lastSeen ? when(m.lastSeen) : "–"}</td>
                <td>${m.listen ?? "–"}</td>
                <td>${m.holds.keys} file(s), ${bytes(m.holds.bytes)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`}<//
  >`;
}

function Transfers({ folder, active }) {
  return html`<section>
    <h3>Moving now</h3>
    ${active.length === 0 ? html`<p class="muted">Nothing is moving.</p>` : ""}
    ${active.map(
      (t) =>
        html`<div class="transfer" data-test="transfer" data-done=${t.done} data-total=${t.total}>
          <div>${t.direction === "up" ? "↑" : "↓"} ${t.path ?? t.key}</div>
          <progress max=${t.total} value=${t.done}></progress>
          <span>${bytes(t.done)} / ${bytes(t.total)} · ${rate(t.rate)} · ETA ${eta(t.etaSeconds)}</span>
        </div>`,
    )}
    <h3>Queue</h3>
    ${folder.transfers.queued.length === 0 ? html`<p class="muted">Nothing waits.</p>` : ""}
    <ul>
      ${folder.transfers.queued.slice(0, 100).map((q) => html`<li>${q.direction === "up" ? "↑" : "↓"} ${q.path ?? q.key}</li>`)}
    </ul>
  </section>`;
}

function Changes({ folder }) {
  const [state] = useView(`/api/folders/${folder.agent}/recent`, folder.head);
  return html`<${Shown} state=${state}
    >${(entries) =>
      html`<ul class="changes" data-test="changes">
        ${entries.map(
          (e) =>
            html`<li>
              <strong>${e.author}</strong> <span class="muted">${when(e.date)}</span>
              <ul>
                ${e.files.map((f) => html`<li><span class=${`status s${f.status[0]}`}>${{ A: "added", M: "changed", D: "deleted" }[f.status[0]] ?? f.status}</span> ${f.path}</li>`)}
              </ul>
            </li>`,
        )}
      </ul>`}<//
  >`;
}

function Conflicts({ folder }) {
  const base = `/api/folders/${folder.agent}`;
  const [state, reload] = useView(`${base}/conflicts`, folder.head);
  const resolve = (path, keep) => api(`${base}/resolve`, { path, keep }).then(reload);
  return html`<${Shown} state=${state}
    >${(conflicts) =>
      conflicts.length === 0
        ? html`<p class="muted" data-test="no-conflicts">No conflicts.</p>`
        : conflicts.map(
            (c) =>
              html`<section class="card conflict" data-test="conflict" data-path=${c.path}>
                <h3>${c.path}: edited on two machines</h3>
                <div class="sides">
                  ${c.sides.map(
                    (s) =>
                      html`<div class="side" data-test="side" data-path=${s.path}>
                        <div><code>${s.path}</code></div>
                        <div class="muted">${s.author ?? "?"}, ${when(s.date)}${s.size !== undefined ? `, ${bytes(s.size)}` : ""}</div>
                        <${Action} label="Keep this one" test="keep-this" run=${() => resolve(s.path, "this")} />
                        <a href=${`${base}/file?path=${encodeURIComponent(s.path)}`} target="_blank" rel="noopener">Open</a>
                      </div>`,
                  )}
                </div>
                <${Action} label="Keep both" test="keep-both" run=${() => resolve(c.path, "both")} />
              </section>`,
          )}<//
  >`;
}

function Versions({ folder }) {
  const base = `/api/folders/${folder.agent}`;
  const [path, setPath] = useState("");
  const [shown, setShown] = useState("");
  const [versions, setVersions] = useState();
  const [deleted, reloadDeleted] = useView(`${base}/deleted`, folder.head);
  const [message, setMessage] = useState();
  const show = async (p) => {
    setShown(p);
    setVersions(await api(`${base}/versions?path=${encodeURIComponent(p)}`));
  };
  const restore = async (p, version) => {
    const result = await api(`${base}/restore`, version === undefined ? { path: p } : { path: p, version });
    setMessage(`Restored ${result.restored.map((r) => r.path).join(", ")}`);
    reloadDeleted();
    if (shown) await show(shown);
  };
  return html`<section>
    <form class="actions" onSubmit=${(e) => (e.preventDefault(), show(path))}>
      <input placeholder="path/in/the/folder.txt" value=${path} onInput=${(e) => setPath(e.target.value)} data-test="version-path" />
      <button type="submit">Show versions</button>
    </form>
    ${message && html`<p class="ok" data-test="message">${message}</p>`}
    ${
      versions &&
      html`<table data-test="versions">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${versions.map(
            (v) =>
              html`<tr>
                <td>${v.version}</td>
                <td>${when(v.date)}</td>
                <td>${v.author}</td>
                <td>${v.deleted ? "deleted" : bytes(v.size)}</td>
                <td>${!v.deleted && html`<${Action} label="Restore" test="restore-version" run=${() => restore(shown, v.version)} />`}</td>
              </tr>`,
          )}
        </tbody>
      </table>`
    }
    <h3>Deleted files</h3>
    <${Shown} state=${deleted}
      >${(files) =>
        files.length === 0
          ? html`<p class="muted">Nothing deleted.</p>`
          : html`<table data-test="deleted">
              <tbody>
                ${files.map(
                  (f) =>
                    html`<tr data-path=${f.path}>
                      <td>
                        <a href="#versions" title="show its versions" onClick=${(e) => (e.preventDefault(), setPath(f.path), show(f.path))}
                          ><code>${f.path}</code></a
                        >
                      </td>
                      <td>${f.author}</td>
                      <td>${when(f.date)}</td>
                      <td><${Action} label="Restore" test="restore-deleted" run=${() => restore(f.path)} /></td>
                    </tr>`,
                )}
              </tbody>
            </table>`}<//
    >
  </section>`;
}

function Bucket({ folder }) {
  const base = `/api/folders/${folder.agent}`;
  const [state, setState] = useState({});
  const compute = async (refresh) => setState({ data: await api(`${base}/bucket${refresh ? "?refresh=1" : ""}`) });
  useEffect(() => void compute(false).catch((e) => setState({ error: e.message })), [base]);
  const usage = state.data;
  return html`<section>
    <${Action} label="Measure again" test="bucket-refresh" run=${() => compute(true)} />
    ${state.error && html`<p class="error">${state.error}</p>`}
    ${
      usage &&
      html`<p data-test="bucket-total">
          ${usage.bucket}/${usage.prefix}: ${bytes(usage.total)} in ${usage.objects} object(s), about
          <strong>$${usage.monthlyUsd.toFixed(4)}</strong> a month at $${usage.pricePerGbMonth}/GB-month (S3 Standard list price, storage
          only). Measured ${when(usage.computedAt)}.
        </p>
        <table data-test="bucket">
          <thead>
            <tr>
              <th>Repository</th>
              <th>History</th>
              <th>Content</th>
              <th>Old versions</th>
              <th>Other</th>
            </tr>
          </thead>
          <tbody>
            ${usage.repos.map(
              (r) =>
                html`<tr>
                  <td>${r.repo}</td>
                  <td>${bytes(r.history)}</td>
                  <td>${bytes(r.content)}</td>
                  <td>${bytes(r.oldVersions)}</td>
                  <td>${bytes(r.other)}</td>
                </tr>`,
            )}
          </tbody>
        </table>`
    }
  </section>`;
}

function App() {
  const [status, setStatus] = useState();
  const [transfers, setTransfers] = useState({});
  const [connected, setConnected] = useState(false);
  const [tab, setTab] = useState(location.hash.slice(1) || "folders");
  const [selected, setSelected] = useState();
  useEffect(() => {
    const events = new EventSource("/api/events");
    // A status is slower to gather than the transfers: an older snapshot arriving late must not move progress back.
    let newest = 0;
    const showTransfers = (seq, entries) => {
      if (seq < newest) return;
      newest = seq;
      setTransfers(Object.fromEntries(entries));
    };
    events.addEventListener("status", (e) => {
      const value = JSON.parse(e.data);
      setStatus(value);
      showTransfers(
        value.seq,
        value.folders.map((f) => [f.agent, f.transfers.active]),
      );
    });
    events.addEventListener("transfers", (e) => {
      const value = JSON.parse(e.data);
      showTransfers(
        value.seq,
        value.folders.map((f) => [f.id, f.active]),
      );
    });
    events.onopen = () => {
      newest = 0; // a restarted daemon numbers its snapshots from 1 again
      setConnected(true);
    };
    events.onerror = () => setConnected(false);
    return () => events.close();
  }, []);
  useEffect(() => {
    const onHash = () => setTab(location.hash.slice(1) || "folders");
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  const folders = status?.folders ?? [];
  const folder = useMemo(() => folders.find((f) => f.agent === selected) ?? folders[0], [folders, selected]);
  return html`<header>
      <h1>cloudbridge</h1>
      <span class=${`dot ${connected ? "on" : "off"}`} title=${connected ? "live" : "reconnecting"}></span>
      ${
        folders.length > 1 &&
        html`<select onChange=${(e) => setSelected(e.target.value)}>
          ${folders.map((f) => html`<option value=${f.agent}>${f.folder}</option>`)}
        </select>`
      }
      <nav>${TABS.map((t) => html`<a href=${`#${t}`} class=${t === tab ? "current" : ""} data-test=${`tab-${t}`}>${t}</a>`)}</nav>
    </header>
    <main>
      ${!status ? html`<p class="muted">Connecting…</p>` : ""}
      ${status && tab === "folders" && folders.map((f) => html`<${FolderCard} folder=${f} key=${f.agent} />`)}
      ${folder && tab === "machines" && html`<${Machines} folder=${folder} />`}
      ${folder && tab === "transfers" && html`<${Transfers} folder=${folder} active=${transfers[folder.agent] ?? []} />`}
      ${folder && tab === "changes" && html`<${Changes} folder=${folder} />`}
      ${folder && tab === "conflicts" && html`<${Conflicts} folder=${folder} />`}
      ${folder && tab === "versions" && html`<${Versions} folder=${folder} />`}
      ${folder && tab === "bucket" && html`<${Bucket} folder=${folder} />`}
    </main>`;
}

render(html`<${App} />`, document.getElementById("app"));
