import type { CacheEntry } from "./stat-cache.ts";

/**
 * The stat cache's entries (path → CacheEntry), kept in columns instead of one object per file: a map of
 * path → slot, and typed arrays holding each slot's blob id (20 bytes), size, mtime, inode, mode and
 * flags; only annex keys (few) are strings. An entry object is made when asked for (`get`, iteration) and
 * is a copy: entries are replaced (`set`), never changed in place. 100,000 files cost about 11 MB here
 * against about 33 MB (plus the heap's slack) as objects, and a scan compares a file's stat fields
 * against its slot without making anything (`unchanged`).
 *
 * It remembers which paths were set or deleted since the cache was last written (`changed`, `cleared`),
 * so a commit of a few files appends those few to the journal (stat-cache.ts).
 *
 * Read from a snapshot, the paths stay in the snapshot's bytes until more than a few are asked for
 * (`SnapshotPaths`): a sync with no daemon asks about the few paths git named, and a map of every path
 * (a string and a map entry each) cost it 15–20 ms at 50,000 files, and garbage collections besides.
 */
export class CacheEntries implements Iterable<[string, CacheEntry]> {
  /** Paths set or deleted since the last write (undefined while the cache is being read). */
  changed: Set<string> | undefined;
  /** Everything was dropped since the last write: only a whole snapshot says so. */
  cleared = false;

  /** path → slot; while `snapshot` is kept, only the paths not found in it (added since it was read). */
  private slots = new Map<string, number>();
  /** The snapshot's paths not yet in `slots` (undefined once they are, or when not read from a snapshot). */
  private snapshot: SnapshotPaths | undefined;
  private free: number[] = [];
  /** Slots ever handed out (in `slots`, in the snapshot's paths, or free). */
  private allotted = 0;
  private capacity = 0;
  private oids = new Uint8Array(0);
  private sizes = new Float64Array(0);
  private mtimes = new Float64Array(0);
  private inos = new Float64Array(0);
  private modes = new Uint8Array(0);
  private flags = new Uint8Array(0);
  /** Annex keys of the slots whose blob is a pointer (ANNEXED set). */
  private readonly annexKeys = new Map<number, string>();
  /** Blob ids that are not 40 lowercase hex digits, and modes not in MODES (never seen from git, but kept exactly). */
  private readonly oddOids = new Map<number, string>();
  private readonly oddModes = new Map<number, string>();
  /** Slots with UNWRITTEN set: asked at every round, so counted rather than looked for. */
  private unwrittenCount = 0;
  /**
   * Folder → how many paths are below it: gathered at the first question (`hasFolder`), then kept as
   * paths come and go, so whether a name is a tracked folder never costs a look along every path.
   */
  private folders: Map<string, number> | undefined;

  get size(): number {
    return this.slots.size + (this.snapshot?.live ?? 0);
  }

  has(path: string): boolean {
    return this.slotOf(path) !== undefined;
  }

  get(path: string): CacheEntry | undefined {
    const slot = this.slotOf(path);
    return slot === undefined ? undefined : this.entryAt(slot);
  }

  set(path: string, entry: CacheEntry): this {
    this.changed?.add(path);
    let slot = this.slotOf(path);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.grow();
      this.slots.set(path, slot);
      if (this.folders) countFolders(this.folders, path, 1);
    } else this.release(slot);
    this.write(slot, entry);
    return this;
  }

  delete(path: string): boolean {
    const slot = this.slotOf(path);
    if (slot === undefined) return false;
    this.changed?.add(path);
    this.release(slot);
    if (!this.slots.delete(path)) {
      // One of the snapshot's paths (slotOf found it there).
      this.snapshot!.gone[slot] = 1;
      this.snapshot!.live -= 1;
    }
    this.free.push(slot);
    if (this.folders) countFolders(this.folders, path, -1);
    return true;
  }

  /** Whether some path is below folder `path` (a name without a trailing slash). */
  hasFolder(path: string): boolean {
    if (!this.folders && this.snapshot && this.snapshot.lookups < LAZY_LOOKUPS) {
      this.snapshot.lookups += 1;
      const below = `${path}/`;
      for (const file of this.slots.keys()) if (file.startsWith(below)) return true;
      return snapshotHasPrefix(this.snapshot, below);
    }
    if (!this.folders) {
      this.folders = new Map();
      for (const file of this.allPaths().keys()) countFolders(this.folders, file, 1);
    }
    return this.folders.has(path);
  }

  clear(): void {
    this.cleared = true;
    this.changed?.clear();
    this.slots.clear();
    this.snapshot = undefined;
    this.allotted = 0;
    this.annexKeys.clear();
    this.oddOids.clear();
    this.oddModes.clear();
    this.free = [];
    this.capacity = 0;
    this.unwrittenCount = 0;
    this.folders = undefined;
    this.allocate(0);
  }

  /** The paths, in the order they were first set. */
  keys(): IterableIterator<string> {
    return this.allPaths().keys();
  }

  *values(): IterableIterator<CacheEntry> {
    for (const slot of this.allPaths().values()) yield this.entryAt(slot);
  }

  *entries(): IterableIterator<[string, CacheEntry]> {
    for (const [path, slot] of this.allPaths()) yield [path, this.entryAt(slot)];
  }

  [Symbol.iterator](): IterableIterator<[string, CacheEntry]> {
    return this.entries();
  }

  /** One mark per entry, all clear: what one scan found on disk (`unchanged` sets them). */
  marks(): EntryMarks {
    return new EntryMarks((path) => this.slotOf(path), this.capacity);
  }

  /**
   * Whether the file at `path` is as the cache last saw it (same size, mtime, inode and mode; the entry
   * neither racy nor a ghost), without making an entry object: what a scan asks of every file. A tracked
   * path is marked in `seen`, changed or not.
   */
  unchanged(path: string, stats: { size: number; mtimeMs: number; ino: number }, mode: string, seen?: EntryMarks): boolean {
    const slot = this.slotOf(path);
    if (slot === undefined) return false;
    seen?.set(slot);
    return (
      (this.flags[slot]! & (RACY | GHOST)) === 0 &&
      this.sizes[slot] === stats.size &&
      this.mtimes[slot] === stats.mtimeMs &&
      this.inos[slot] === stats.ino &&
      this.modeAt(slot) === mode
    );
  }

  /** Some entry is `unwritten` (a version a read-only folder kept out). */
  anyUnwritten(): boolean {
    return this.unwrittenCount > 0;
  }

  /** The annexed entries (their blob is a pointer to `key`), without looking at the others. */
  *annexed(): IterableIterator<{ path: string; key: string; entry: CacheEntry }> {
    if (this.annexKeys.size === 0) return;
    for (const [path, slot] of this.allPaths()) {
      const key = this.annexKeys.get(slot);
      if (key !== undefined) yield { path, key, entry: this.entryAt(slot) };
    }
  }

  /** Entries with `mode`, without making the others. */
  *withMode(mode: string): IterableIterator<[string, CacheEntry]> {
    const code = MODES.indexOf(mode);
    for (const [path, slot] of this.allPaths())
      if (code >= 0 ? this.modes[slot] === code : this.oddModes.get(slot) === mode) yield [path, this.entryAt(slot)];
  }

  /** Entries whose `annexed` is not known yet, without making the others. */
  *annexedUnknown(): IterableIterator<[string, CacheEntry]> {
    const unknown = (slot: number) => (this.flags[slot]! & (ANNEXED | NOT_ANNEXED)) === 0;
    // Usually none (each is learnt once): asked of the flags alone, without the snapshot's paths.
    if (this.snapshot) {
      let any = false;
      for (const slot of this.slots.values()) any ||= unknown(slot);
      for (let slot = 0; slot < this.snapshot.gone.length && !any; slot++) any = this.snapshot.gone[slot] === 0 && unknown(slot);
      if (!any) return;
    }
    for (const [path, slot] of this.allPaths()) if (unknown(slot)) yield [path, this.entryAt(slot)];
  }

  /** Paths whose blob is `oid`, without making the other entries. */
  *withOid(oid: string): IterableIterator<string> {
    const bytes = oidBytes(oid);
    for (const [path, slot] of this.allPaths()) {
      if (bytes === undefined || this.oddOids.has(slot)) {
        if (this.oidAt(slot) === oid) yield path;
        continue;
      }
      let same = true;
      for (let i = 0, at = slot * OID_BYTES; i < OID_BYTES && same; i++, at++) same = this.oids[at] === bytes[i];
      if (same) yield path;
    }
  }

  /**
   * The entries as a snapshot's body (see `fromSnapshot`), in order, and what its header must carry: the
   * count, and for the few entries that need them their annex key, odd blob id or odd mode.
   */
  toSnapshot(): { count: number; odd: OddFields[]; body: Buffer } {
    const all = this.allPaths();
    const count = all.size;
    const paths: Buffer[] = [];
    const odd: OddFields[] = [];
    const body = Buffer.alloc(count * FIXED_BYTES);
    const at = columnOffsets(count);
    const sizes = new Float64Array(count);
    const mtimes = new Float64Array(count);
    const inos = new Float64Array(count);
    let i = 0;
    for (const [path, slot] of all) {
      paths.push(Buffer.from(`${path}\0`));
      body.set(this.oids.subarray(slot * OID_BYTES, (slot + 1) * OID_BYTES), at.oids + i * OID_BYTES);
      sizes[i] = this.sizes[slot]!;
      mtimes[i] = this.mtimes[slot]!;
      inos[i] = this.inos[slot]!;
      body[at.modes + i] = this.modes[slot]!;
      body[at.flags + i] = this.flags[slot]!;
      const key = this.annexKeys.get(slot);
      const oddOid = this.oddOids.get(slot);
      const oddMode = this.oddModes.get(slot);
      if (key !== undefined || oddOid !== undefined || oddMode !== undefined) odd.push([i, key ?? null, oddOid ?? null, oddMode ?? null]);
      i += 1;
    }
    body.set(new Uint8Array(sizes.buffer), at.sizes);
    body.set(new Uint8Array(mtimes.buffer), at.mtimes);
    body.set(new Uint8Array(inos.buffer), at.inos);
    return { count, odd, body: Buffer.concat([body, ...paths]) };
  }

  /**
   * Entries from a snapshot's body as `toSnapshot` wrote it; undefined when it does not hold together (a
   * damaged file). Read from the bytes as they are, column by column, and the paths left in the bytes
   * until they are asked for (`SnapshotPaths`): nothing is made per entry, so reading 100,000 entries
   * leaves no garbage behind but the file's bytes.
   */
  static fromSnapshot(count: number, odd: OddFields[], body: Buffer): CacheEntries | undefined {
    const at = columnOffsets(count);
    if (!Number.isSafeInteger(count) || count < 0 || body.length < at.paths || !Array.isArray(odd)) return undefined;
    const entries = new CacheEntries();
    entries.allocate(count);
    entries.allotted = count;
    const column = (offset: number, bytes: number) => body.subarray(offset, offset + bytes);
    entries.oids.set(column(at.oids, count * OID_BYTES));
    new Uint8Array(entries.sizes.buffer).set(column(at.sizes, count * 8));
    new Uint8Array(entries.mtimes.buffer).set(column(at.mtimes, count * 8));
    new Uint8Array(entries.inos.buffer).set(column(at.inos, count * 8));
    entries.modes.set(column(at.modes, count));
    entries.flags.set(column(at.flags, count));
    // Where each path starts: a pass over the bytes, in a typed array (no object per path).
    const paths = body.subarray(at.paths);
    const starts = new Uint32Array(count + 1);
    let slot = 0;
    for (let i = 0; i < paths.length; i++) {
      if (paths[i] !== 0) continue;
      if (slot === count) return undefined;
      slot += 1;
      starts[slot] = i + 1;
    }
    if (slot !== count || starts[count] !== paths.length) return undefined;
    entries.snapshot = { bytes: paths, starts, gone: new Uint8Array(count), live: count, lookups: 0 };
    for (let slot = 0; slot < count; slot++) if (entries.flags[slot]! & UNWRITTEN) entries.unwrittenCount += 1;
    for (const [slot, key, oddOid, oddMode] of odd) {
      if (typeof slot !== "number" || slot < 0 || slot >= count) return undefined;
      if (typeof key === "string") entries.annexKeys.set(slot, key);
      if (typeof oddOid === "string") entries.oddOids.set(slot, oddOid);
      if (typeof oddMode === "string") entries.oddModes.set(slot, oddMode);
    }
    return entries;
  }

  /** The slot of `path`: in `slots`, else searched in the snapshot's bytes while few paths were asked for. */
  private slotOf(path: string): number | undefined {
    const slot = this.slots.get(path);
    if (slot !== undefined || this.snapshot === undefined) return slot;
    if (this.snapshot.lookups >= LAZY_LOOKUPS) return this.allPaths().get(path);
    this.snapshot.lookups += 1;
    return snapshotSlot(this.snapshot, path);
  }

  /** Every path in `slots`, the snapshot's first (in its order), then those added since. */
  private allPaths(): Map<string, number> {
    const snapshot = this.snapshot;
    if (snapshot === undefined) return this.slots;
    this.snapshot = undefined;
    const count = snapshot.gone.length;
    // The paths decoded at once and split: a decode per path costs several times more.
    const paths = snapshot.bytes.toString("utf8").split("\0");
    const slots = new Map<string, number>();
    // A path deleted since keeps any later copy of it out too (a snapshot holds a path once, unless damaged:
    // then its first place is the one every search found).
    const deleted = new Set<string>();
    for (let slot = 0; slot < count; slot++) if (snapshot.gone[slot]) deleted.add(paths[slot]!);
    for (let slot = 0; slot < count; slot++) {
      if (snapshot.gone[slot]) continue;
      const path = paths[slot]!;
      if (slots.has(path) || deleted.has(path)) {
        this.release(slot);
        this.free.push(slot);
      } else slots.set(path, slot);
    }
    for (const [path, slot] of this.slots) slots.set(path, slot);
    this.slots = slots;
    return slots;
  }

  private entryAt(slot: number): CacheEntry {
    const flags = this.flags[slot]!;
    const entry: CacheEntry = {
      mode: this.modeAt(slot),
      oid: this.oidAt(slot),
      size: this.sizes[slot]!,
      mtimeMs: this.mtimes[slot]!,
      ino: this.inos[slot]!,
    };
    if (flags & RACY) entry.racy = true;
    if (flags & GHOST) entry.ghost = true;
    if (flags & UNWRITTEN) entry.unwritten = true;
    if (flags & ANNEXED) entry.annexed = this.annexKeys.get(slot)!;
    else if (flags & NOT_ANNEXED) entry.annexed = false;
    return entry;
  }

  private modeAt(slot: number): string {
    const code = this.modes[slot]!;
    return code === ODD ? this.oddModes.get(slot)! : MODES[code]!;
  }

  private oidAt(slot: number): string {
    const odd = this.oddOids.get(slot);
    if (odd !== undefined) return odd;
    return Buffer.from(this.oids.buffer, this.oids.byteOffset + slot * OID_BYTES, OID_BYTES).toString("hex");
  }

  private write(slot: number, entry: CacheEntry): void {
    const bytes = oidBytes(entry.oid);
    if (bytes) this.oids.set(bytes, slot * OID_BYTES);
    else this.oddOids.set(slot, entry.oid);
    const code = MODES.indexOf(entry.mode);
    this.modes[slot] = code >= 0 ? code : ODD;
    if (code < 0) this.oddModes.set(slot, entry.mode);
    this.sizes[slot] = entry.size;
    this.mtimes[slot] = entry.mtimeMs;
    this.inos[slot] = entry.ino;
    let flags = 0;
    if (entry.racy) flags |= RACY;
    if (entry.ghost) flags |= GHOST;
    if (entry.unwritten) {
      flags |= UNWRITTEN;
      this.unwrittenCount += 1;
    }
    if (typeof entry.annexed === "string") {
      flags |= ANNEXED;
      this.annexKeys.set(slot, entry.annexed);
    } else if (entry.annexed === false) flags |= NOT_ANNEXED;
    this.flags[slot] = flags;
  }

  /** Forgets what a slot held beyond its columns (before it is written again or freed). */
  private release(slot: number): void {
    if (this.flags[slot]! & UNWRITTEN) this.unwrittenCount -= 1;
    this.flags[slot] = 0;
    this.annexKeys.delete(slot);
    this.oddOids.delete(slot);
    this.oddModes.delete(slot);
  }

  private grow(): number {
    const slot = this.allotted;
    this.allotted += 1;
    if (slot >= this.capacity) this.allocate(Math.max(1024, Math.ceil(this.capacity * 1.5)));
    return slot;
  }

  /** Makes room for `capacity` slots, keeping what the first ones hold. */
  private allocate(capacity: number): void {
    const keep = Math.min(this.capacity, capacity);
    const resized = <T extends Uint8Array | Float64Array>(old: T, make: (n: number) => T, width = 1): T => {
      const next = make(capacity * width);
      next.set(old.subarray(0, keep * width));
      return next;
    };
    this.oids = resized(this.oids, (n) => new Uint8Array(n), OID_BYTES);
    this.sizes = resized(this.sizes, (n) => new Float64Array(n));
    this.mtimes = resized(this.mtimes, (n) => new Float64Array(n));
    this.inos = resized(this.inos, (n) => new Float64Array(n));
    this.modes = resized(this.modes, (n) => new Uint8Array(n));
    this.flags = resized(this.flags, (n) => new Uint8Array(n));
    this.capacity = capacity;
  }
}

/** Adds `by` to the count of every folder above `path`, dropping a folder whose count reaches 0. */
function countFolders(folders: Map<string, number>, path: string, by: 1 | -1): void {
  for (let slash = path.lastIndexOf("/"); slash > 0; slash = path.lastIndexOf("/", slash - 1)) {
    const folder = path.slice(0, slash);
    const count = (folders.get(folder) ?? 0) + by;
    if (count > 0) folders.set(folder, count);
    else folders.delete(folder);
  }
}

/** A bit per entry (by slot), for one pass over the folder; entries added since are never marked. */
export class EntryMarks {
  private readonly slotOf: (path: string) => number | undefined;
  private readonly bits: Uint8Array;

  constructor(slotOf: (path: string) => number | undefined, capacity: number) {
    this.slotOf = slotOf;
    this.bits = new Uint8Array(capacity);
  }

  set(slot: number): void {
    if (slot < this.bits.length) this.bits[slot] = 1;
  }

  has(path: string): boolean {
    const slot = this.slotOf(path);
    return slot !== undefined && this.bits[slot] === 1;
  }
}

/**
 * A snapshot's paths as read, slot by slot, before they are put in a map: a path is found by a search
 * of the bytes (`snapshotSlot`, tens of microseconds at 50,000 paths) until LAZY_LOOKUPS were made;
 * past that, or for anything that needs every path, they all go into the map at once.
 */
interface SnapshotPaths {
  /** The paths, each ended by a NUL (a path never holds one). */
  bytes: Buffer;
  /** Where each slot's path starts in `bytes`; one more at the end (bytes.length). */
  starts: Uint32Array;
  /** 1 for a slot whose path was deleted since (its slot may hold another path now, one in `slots`). */
  gone: Uint8Array;
  /** Slots not gone. */
  live: number;
  /** Paths searched for so far. */
  lookups: number;
}

/** Searches a snapshot holds up to: past this many, a map of every path costs less (and asks nothing more of the bytes). */
const LAZY_LOOKUPS = 64;

/** The slot of `path` in the snapshot (its first place), or undefined when it is not there or was deleted since. */
function snapshotSlot(snapshot: SnapshotPaths, path: string): number | undefined {
  const name = Buffer.from(path);
  let at: number;
  if (
    snapshot.bytes.length > name.length &&
    snapshot.bytes[name.length] === 0 &&
    snapshot.bytes.compare(name, 0, name.length, 0, name.length) === 0
  )
    at = 0;
  else {
    // Every NUL ends a path: one just before the name and one just after it delimit a whole path.
    const found = snapshot.bytes.indexOf(Buffer.concat([NUL, name, NUL]));
    if (found < 0) return undefined;
    at = found + 1;
  }
  const slot = slotStartingAt(snapshot.starts, at);
  // The bytes decode to `path` itself (a string with a lone surrogate is written as U+FFFD: another name).
  if (snapshot.gone[slot] || snapshot.bytes.toString("utf8", at, at + name.length) !== path) return undefined;
  return slot;
}

/** Whether some path the snapshot still holds begins with `prefix`. */
function snapshotHasPrefix(snapshot: SnapshotPaths, prefix: string): boolean {
  const name = Buffer.from(prefix);
  const holds = (at: number) =>
    !snapshot.gone[slotStartingAt(snapshot.starts, at)] && snapshot.bytes.toString("utf8", at, at + name.length) === prefix;
  if (snapshot.bytes.length > name.length && snapshot.bytes.compare(name, 0, name.length, 0, name.length) === 0 && holds(0)) return true;
  const needle = Buffer.concat([NUL, name]);
  for (let found = snapshot.bytes.indexOf(needle); found >= 0; found = snapshot.bytes.indexOf(needle, found + 1))
    if (holds(found + 1)) return true;
  return false;
}

/** The slot whose path starts at byte `at` (one of `starts`). */
function slotStartingAt(starts: Uint32Array, at: number): number {
  let low = 0;
  let high = starts.length - 2;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (starts[middle]! <= at) low = middle;
    else high = middle - 1;
  }
  return low;
}

const NUL = Buffer.from([0]);

/**
 * What a snapshot's header carries for an entry (by its place in the snapshot) that needs more than the
 * columns: its annex key, a blob id that is not SHA-1 hex, a mode outside MODES.
 */
export type OddFields = [number, string | null, string | null, string | null];

/**
 * A snapshot's body: the columns one after another (blob ids, 20 bytes each; sizes, mtimes and inodes,
 * 8-byte floats in this machine's byte order; modes and flags, a byte each), then the paths, each ended
 * by a NUL (a path never holds one).
 */
function columnOffsets(count: number) {
  const oids = 0;
  const sizes = oids + count * OID_BYTES;
  const mtimes = sizes + count * 8;
  const inos = mtimes + count * 8;
  const modes = inos + count * 8;
  const flags = modes + count;
  return { oids, sizes, mtimes, inos, modes, flags, paths: flags + count };
}

const OID_BYTES = 20;
/** Bytes per entry before its path. */
const FIXED_BYTES = OID_BYTES + 3 * 8 + 2;
/** The modes a tree holds for files, links and submodules; anything else is kept as it is (ODD). */
const MODES = ["100644", "100755", "120000", "160000"];
const ODD = 255;
const RACY = 1;
const GHOST = 2;
const UNWRITTEN = 4;
const ANNEXED = 8;
const NOT_ANNEXED = 16;

/** A SHA-1 blob id as bytes, or undefined for anything else (kept as a string). */
function oidBytes(oid: string): Buffer | undefined {
  if (oid.length !== OID_BYTES * 2 || !/^[0-9a-f]+$/.test(oid)) return undefined;
  return Buffer.from(oid, "hex");
}
