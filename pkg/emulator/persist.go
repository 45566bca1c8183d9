package emulator

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Durable state. With Config.DataDir the emulator keeps what it holds (sources,
// connections, discovered catalogs, upstream schemas, jobs and the id
// generator) in that folder, so a restarted emulator carries on where the last
// one stopped:
//
//   - state.json is a snapshot, written to a temporary file, synced and renamed
//     over the previous one: a crash while writing leaves the previous snapshot.
//   - log.jsonl is an append log of every record changed since the snapshot,
//     one line per record ("<crc32> <json>"), written before the request that
//     changed them is answered. A torn or corrupt line (a crash mid-write) ends
//     the replay: what follows it is ignored and the file is cut there.
//
// Records are whole entities (a source, a connection, a catalog, a job, a
// schema, the counters), so replaying one is an upsert; each carries a sequence
// number and the snapshot the last one it includes, so a log left over by a
// crash between a snapshot's rename and the log's truncation is skipped. The
// log is compacted into a new snapshot when it outgrows the snapshot (and 4
// MiB). Jobs keep their timelines, so a job that was running when the emulator
// stopped is advanced on restart as if the emulator had kept running: it ends
// as it would have.

const (
	snapshotFile = "state.json"
	logFile      = "log.jsonl"
	// compactMin is the log size under which the log is never compacted.
	compactMin = 4 << 20
)

// Record kinds.
const (
	recMeta       = "meta"
	recSchema     = "schema"
	recCatalog    = "catalog"
	recSource     = "source"
	recConnection = "connection"
	recJob        = "job"
	recJobGone    = "job_gone"
)

// record is one line of the log, and one entry of a snapshot.
type record struct {
	Seq        uint64          `json:"seq"`
	Kind       string          `json:"kind"`
	Meta       *metaRec        `json:"meta,omitempty"`
	Schema     *schemaRec      `json:"schema,omitempty"`
	Catalog    *catalogRec     `json:"catalog,omitempty"`
	Source     *sourceFile     `json:"source,omitempty"`
	Connection *connectionFile `json:"connection,omitempty"`
	Job        *jobFile        `json:"job,omitempty"`
	JobID      int64           `json:"job_id,omitempty"`
}

type metaRec struct {
	NextJobID  int64   `json:"next_job_id"`
	PrunedJobs int     `json:"pruned_jobs"`
	IDs        []byte  `json:"ids"`       // the id generator's state
	WaitList   []int64 `json:"wait_list"` // jobs waiting for a worker, oldest first
}

type schemaRec struct {
	Hash    string   `json:"hash"`
	Streams []Stream `json:"streams"`
}

type catalogRec struct {
	ID        string    `json:"id"`
	Schema    string    `json:"schema"` // schema hash
	CreatedAt time.Time `json:"created_at"`
}

type sourceFile struct {
	Ord          int               `json:"ord"`
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	WorkspaceID  string            `json:"workspace_id"`
	DefinitionID string            `json:"definition_id"`
	Config       map[string]any    `json:"config"`
	CreatedAt    time.Time         `json:"created_at"`
	Deleted      bool              `json:"deleted,omitempty"`
	Upstream     string            `json:"upstream,omitempty"` // schema hash; "" the definition's
	Cache        map[string]string `json:"cache,omitempty"`
	AutoBucket   int64             `json:"auto_bucket,omitempty"`
	AutoCatalog  string            `json:"auto_catalog,omitempty"`
	LastFetch    string            `json:"last_fetch,omitempty"`
}

type connectionFile struct {
	Ord                   int          `json:"ord"`
	ID                    string       `json:"id"`
	Name                  string       `json:"name"`
	SourceID              string       `json:"source_id"`
	DestinationID         string       `json:"destination_id"`
	WorkspaceID           string       `json:"workspace_id"`
	Status                string       `json:"status"`
	StatusReason          string       `json:"status_reason,omitempty"`
	ScheduleType          string       `json:"schedule_type"`
	CronExpression        string       `json:"cron_expression,omitempty"`
	CronTimeZone          string       `json:"cron_time_zone,omitempty"`
	BasicUnits            int64        `json:"basic_units,omitempty"`
	BasicTimeUnit         string       `json:"basic_time_unit,omitempty"`
	NamespaceDefinition   string       `json:"namespace_definition"`
	NamespaceFormat       string       `json:"namespace_format,omitempty"`
	Prefix                string       `json:"prefix"`
	NonBreakingPreference string       `json:"non_breaking_preference"`
	BackfillPreference    string       `json:"backfill_preference"`
	NotifySchemaChanges   bool         `json:"notify_schema_changes"`
	Catalog               []streamFile `json:"catalog"`
	SourceCatalogID       string       `json:"source_catalog_id"`
	BreakingChange        bool         `json:"breaking_change,omitempty"`
	CreatedAt             time.Time    `json:"created_at"`
	Tags                  []any        `json:"tags,omitempty"`
	LastDiff              *CatalogDiff `json:"last_diff,omitempty"`
	PrunedSuccess         int64        `json:"pruned_success,omitempty"`
}

// streamFile is one stream of a connection's catalog: a reference to a stored
// schema's stream (Schema, Index) when it is one, else the stream itself.
type streamFile struct {
	Schema string       `json:"schema,omitempty"`
	Index  int          `json:"index,omitempty"`
	Stream *Stream      `json:"stream,omitempty"`
	Config StreamConfig `json:"config"`
}

type attemptFile struct {
	Created stamp         `json:"c"`
	Ended   stamp         `json:"e,omitempty"`
	Status  attemptStatus `json:"s,omitempty"`
	Failure failureKind   `json:"f,omitempty"`
}

type jobFile struct {
	ID           int64         `json:"id"`
	ConnectionID string        `json:"connection_id"`
	JobType      string        `json:"job_type"`
	Status       string        `json:"status"`
	Streams      []string      `json:"streams"`
	Attempts     []attemptFile `json:"attempts,omitempty"`
	Created      stamp         `json:"created"`
	Updated      stamp         `json:"updated"`
	Started      stamp         `json:"started,omitempty"`
	NextAt       stamp         `json:"next_at,omitempty"`
	FailAttempts int           `json:"fail_attempts,omitempty"`
	FailWith     failureKind   `json:"fail_with,omitempty"`
	Scale        streamScale   `json:"scale,omitempty"`
	Due          stamp         `json:"due,omitempty"`
	Waiting      bool          `json:"waiting,omitempty"`
}

// store is the open data folder. Guarded by Emulator.mu.
type store struct {
	dir     string
	log     *os.File
	logSize int64
	snapLen int64
	seq     uint64
	// dirty entities, flushed at the end of the request that changed them.
	sources     map[*sourceRec]struct{}
	connections map[*connectionRec]struct{}
	catalogs    map[*actorCatalog]struct{}
	jobs        map[*jobRec]struct{}
	jobsGone    []int64
	// written holds the schema hashes already in the snapshot or the log.
	written map[string]bool
	err     error // the first write error; later flushes report it
}

func (e *Emulator) touchSource(s *sourceRec) {
	if e.store != nil {
		e.store.sources[s] = struct{}{}
	}
}

func (e *Emulator) touchConnection(c *connectionRec) {
	if e.store != nil {
		e.store.connections[c] = struct{}{}
	}
}

func (e *Emulator) touchCatalog(ac *actorCatalog) {
	if e.store != nil {
		e.store.catalogs[ac] = struct{}{}
	}
}

func (e *Emulator) touchJob(j *jobRec) {
	if e.store != nil {
		e.store.jobs[j] = struct{}{}
	}
}

func (e *Emulator) jobGone(j *jobRec) {
	if e.store != nil {
		delete(e.store.jobs, j)
		e.store.jobsGone = append(e.store.jobsGone, j.ID)
	}
}

func (st *store) dirty() bool {
	return len(st.sources)+len(st.connections)+len(st.catalogs)+len(st.jobs)+len(st.jobsGone) > 0
}

// Open returns an Emulator whose state lives in cfg.DataDir (created when
// missing): the state a previous emulator left there is restored, and every
// change is written there before it is answered. Without a DataDir it is New.
func Open(cfg Config) (*Emulator, error) {
	e := newEmulator(cfg)
	if e.cfg.DataDir == "" {
		return e, nil
	}
	if err := e.openStore(e.cfg.DataDir); err != nil {
		return nil, err
	}
	return e, nil
}

// persist writes the records changed since the last call to the log (and
// compacts it when it has grown). It is called before answering every request
// that may have changed something. Callers do not hold e.mu.
func (e *Emulator) persist() error {
	if e.store == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flushLocked()
}

func (e *Emulator) flushLocked() error {
	st := e.store
	if st == nil {
		return nil
	}
	if st.err != nil {
		return st.err
	}
	if !st.dirty() {
		return nil
	}
	var buf bytes.Buffer
	for _, r := range e.dirtyRecords() {
		st.seq++
		r.Seq = st.seq
		if err := appendLine(&buf, r); err != nil {
			st.err = err
			return err
		}
	}
	n, err := st.log.Write(buf.Bytes())
	st.logSize += int64(n)
	if err != nil {
		st.err = fmt.Errorf("emulator: write %s: %w", filepath.Join(st.dir, logFile), err)
		return st.err
	}
	if st.logSize > max(compactMin, 2*st.snapLen) {
		return e.snapshotLocked()
	}
	return nil
}

func appendLine(buf *bytes.Buffer, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("emulator: encode %s record: %w", r.Kind, err)
	}
	buf.WriteString(strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 16))
	buf.WriteByte(' ')
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

// dirtyRecords returns the records of every dirty entity and clears the marks;
// schemas they reference come first. Callers hold e.mu.
func (e *Emulator) dirtyRecords() []record {
	st := e.store
	var out []record
	schemaRef := func(sch *schema) string {
		h := sch.contentHash()
		if !st.written[h] {
			st.written[h] = true
			out = append(out, record{Kind: recSchema, Schema: &schemaRec{Hash: h, Streams: sch.streams}})
		}
		return h
	}
	for _, ac := range sortedKeys(st.catalogs, func(ac *actorCatalog) string { return ac.ID }) {
		out = append(out, record{Kind: recCatalog, Catalog: &catalogRec{ID: ac.ID, Schema: schemaRef(ac.schema()), CreatedAt: ac.CreatedAt}})
	}
	for _, s := range sortedKeys(st.sources, func(s *sourceRec) string { return s.ID }) {
		out = append(out, record{Kind: recSource, Source: e.sourceFile(s, schemaRef)})
	}
	for _, c := range sortedKeys(st.connections, func(c *connectionRec) string { return c.ID }) {
		out = append(out, record{Kind: recConnection, Connection: e.connectionFile(c, schemaRef)})
	}
	jobs := make([]*jobRec, 0, len(st.jobs))
	for j := range st.jobs {
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b *jobRec) int { return cmp.Compare(a.ID, b.ID) })
	for _, j := range jobs {
		out = append(out, record{Kind: recJob, Job: jobFileOf(j)})
	}
	for _, id := range st.jobsGone {
		out = append(out, record{Kind: recJobGone, JobID: id})
	}
	out = append(out, record{Kind: recMeta, Meta: e.metaRec()})
	st.sources, st.connections = emptied(st.sources), emptied(st.connections)
	st.catalogs, st.jobs = emptied(st.catalogs), emptied(st.jobs)
	st.jobsGone = st.jobsGone[:0]
	return out
}

// emptied empties a set of dirty marks. A set that held many (a restore,
// a burst) is replaced rather than cleared: a cleared map keeps its size,
// and ranging over it, as every flush does, would walk all of it.
func emptied[K comparable](m map[K]struct{}) map[K]struct{} {
	if len(m) > 64 {
		return map[K]struct{}{}
	}
	clear(m)
	return m
}

func sortedKeys[T any](m map[*T]struct{}, key func(*T) string) []*T {
	out := make([]*T, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *T) int { return strings.Compare(key(a), key(b)) })
	return out
}

func (e *Emulator) metaRec() *metaRec {
	ids, _ := e.idSource.MarshalBinary()
	m := &metaRec{NextJobID: e.st.nextJobID, PrunedJobs: e.st.prunedJobs, IDs: ids, WaitList: []int64{}}
	for _, j := range e.st.waitList {
		if j != nil && j.waiting {
			m.WaitList = append(m.WaitList, j.ID)
		}
	}
	return m
}

func (e *Emulator) sourceFile(s *sourceRec, schemaRef func(*schema) string) *sourceFile {
	f := &sourceFile{Ord: s.ord, ID: s.ID, Name: s.Name, WorkspaceID: s.WorkspaceID, DefinitionID: s.DefinitionID,
		Config: s.Config, CreatedAt: s.CreatedAt, Deleted: s.Deleted, AutoBucket: s.autoBucket, AutoCatalog: s.autoCatalog,
		LastFetch: s.lastFetch}
	if def := e.st.sourceDefs[s.DefinitionID]; def == nil || s.upstream != def.schemaOf() {
		f.Upstream = schemaRef(s.upstream)
	}
	if len(s.cache) > 0 {
		f.Cache = make(map[string]string, len(s.cache))
		for _, c := range s.cache {
			f.Cache[c.key] = c.catalogID
		}
	}
	return f
}

func (e *Emulator) connectionFile(c *connectionRec, schemaRef func(*schema) string) *connectionFile {
	f := &connectionFile{Ord: c.ord, ID: c.ID, Name: c.Name, SourceID: c.SourceID, DestinationID: c.DestinationID,
		WorkspaceID: c.WorkspaceID, Status: c.Status, StatusReason: c.StatusReason, ScheduleType: c.ScheduleType,
		CronExpression: c.CronExpression, CronTimeZone: c.CronTimeZone, BasicUnits: c.BasicUnits, BasicTimeUnit: c.BasicTimeUnit,
		NamespaceDefinition: c.NamespaceDefinition, NamespaceFormat: c.NamespaceFormat, Prefix: c.Prefix,
		NonBreakingPreference: c.NonBreakingPreference, BackfillPreference: c.BackfillPreference,
		NotifySchemaChanges: c.NotifySchemaChanges, SourceCatalogID: c.SourceCatalogID, BreakingChange: c.BreakingChange,
		CreatedAt: c.CreatedAt, Tags: c.Tags, LastDiff: c.lastDiff, PrunedSuccess: c.prunedSuccess,
		Catalog: make([]streamFile, len(c.Catalog))}
	// A catalog stream is nearly always one of a discovered catalog's streams:
	// stored as a reference to it.
	var candidates []*schema
	if ac, ok := e.st.catalogs[c.SourceCatalogID]; ok {
		candidates = append(candidates, ac.schema())
	}
	if s, ok := e.st.sources[c.SourceID]; ok {
		candidates = append(candidates, s.upstream)
	}
	for i, cs := range c.Catalog {
		sf := streamFile{Config: cs.config}
		found := false
		for _, sch := range candidates {
			for k := range sch.streams {
				if &sch.streams[k] == cs.stream {
					sf.Schema, sf.Index, found = schemaRef(sch), k, true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			st := *cs.stream
			sf.Stream = &st
		}
		f.Catalog[i] = sf
	}
	return f
}

func jobFileOf(j *jobRec) *jobFile {
	f := &jobFile{ID: j.ID, ConnectionID: j.ConnectionID, JobType: j.JobType, Status: j.Status, Streams: j.Streams,
		Created: j.created, Updated: j.updated, Started: j.started, NextAt: j.nextAt, FailAttempts: j.failAttempts, FailWith: j.failWith, Scale: j.scale,
		Due: j.due, Waiting: j.waiting}
	for _, a := range j.Attempts {
		f.Attempts = append(f.Attempts, attemptFile{Created: a.created, Ended: a.ended, Status: a.status, Failure: a.failure})
	}
	return f
}

// snapshot is state.json.
type snapshot struct {
	Seq     uint64   `json:"seq"`
	Records []record `json:"records"`
}

// snapshotLocked writes every entity to a new snapshot (write, sync, rename)
// and starts an empty log. Callers hold e.mu.
func (e *Emulator) snapshotLocked() error {
	st := e.store
	clear(st.written)
	for _, id := range e.st.sourceOrder {
		st.sources[e.st.sources[id]] = struct{}{}
	}
	for _, id := range e.st.connOrder {
		st.connections[e.st.connections[id]] = struct{}{}
	}
	for _, ac := range e.st.catalogs {
		st.catalogs[ac] = struct{}{}
	}
	for _, j := range e.st.jobs {
		st.jobs[j] = struct{}{}
	}
	st.jobsGone = st.jobsGone[:0]
	snap := snapshot{Seq: st.seq, Records: e.dirtyRecords()}
	b, err := json.Marshal(snap)
	if err != nil {
		st.err = fmt.Errorf("emulator: encode snapshot: %w", err)
		return st.err
	}
	if err := writeFileAtomic(filepath.Join(st.dir, snapshotFile), b); err != nil {
		st.err = err
		return err
	}
	st.snapLen = int64(len(b))
	if err := st.log.Truncate(0); err != nil {
		st.err = fmt.Errorf("emulator: truncate %s: %w", filepath.Join(st.dir, logFile), err)
		return st.err
	}
	if _, err := st.log.Seek(0, io.SeekStart); err != nil {
		st.err = err
		return err
	}
	st.logSize = 0
	return nil
}

// writeFileAtomic writes b to path through a synced temporary file renamed
// over it, then syncs the folder: path holds the old or the new content, never
// a mix.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("emulator: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("emulator: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("emulator: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// openStore restores the state kept in dir and opens its log for appending.
func (e *Emulator) openStore(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("emulator: data folder: %w", err)
	}
	st := &store{dir: dir, sources: map[*sourceRec]struct{}{}, connections: map[*connectionRec]struct{}{},
		catalogs: map[*actorCatalog]struct{}{}, jobs: map[*jobRec]struct{}{}, written: map[string]bool{}}
	ld := newLoader(e)
	b, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("emulator: %w", err)
	default:
		var snap snapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			return fmt.Errorf("emulator: %s: %w", filepath.Join(dir, snapshotFile), err)
		}
		for _, r := range snap.Records {
			if err := ld.apply(r); err != nil {
				return err
			}
		}
		st.seq, st.snapLen = snap.Seq, int64(len(b))
	}
	logPath := filepath.Join(dir, logFile)
	f, err := os.OpenFile(logPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	good, records, err := readLog(f)
	if err != nil {
		_ = f.Close()
		return err
	}
	for _, r := range records {
		if r.Seq <= st.seq {
			continue // already in the snapshot
		}
		if err := ld.apply(r); err != nil {
			_ = f.Close()
			return err
		}
		st.seq = r.Seq
	}
	// Cut a torn tail so that new records follow the last good one.
	if err := f.Truncate(good); err != nil {
		_ = f.Close()
		return fmt.Errorf("emulator: truncate %s: %w", logPath, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
		return fmt.Errorf("emulator: %w", err)
	}
	st.log, st.logSize = f, good
	if err := ld.finish(); err != nil {
		_ = f.Close()
		return err
	}
	e.store = st
	for _, h := range ld.schemaHashes() {
		st.written[h] = true
	}
	e.log.Info("airbyte emulator state restored", zap.String("data_dir", dir), zap.Int("sources", len(e.st.sources)),
		zap.Int("connections", len(e.st.connections)), zap.Int("jobs", len(e.st.jobs)))
	return nil
}

// readLog returns the offset after the last good line and the records up to it.
func readLog(f *os.File) (int64, []record, error) {
	var out []record
	var good int64
	rd := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := rd.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, out, nil // a line without its newline is torn
		}
		if err != nil {
			return 0, nil, fmt.Errorf("emulator: read log: %w", err)
		}
		sum, body, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		if !ok {
			return good, out, nil
		}
		want, perr := strconv.ParseUint(string(sum), 16, 32)
		if perr != nil || uint32(want) != crc32.ChecksumIEEE(body) {
			return good, out, nil
		}
		var r record
		if err := json.Unmarshal(body, &r); err != nil {
			return good, out, nil
		}
		out = append(out, r)
		good += int64(len(line))
	}
}

// loader rebuilds the state from records.
type loader struct {
	e       *Emulator
	schemas map[string][]Stream
	sources map[string]*sourceFile
	conns   map[string]*connectionFile
	cats    map[string]*catalogRec
	jobs    map[int64]*jobFile
	meta    *metaRec
}

func newLoader(e *Emulator) *loader {
	ld := &loader{e: e, schemas: map[string][]Stream{}, sources: map[string]*sourceFile{}, conns: map[string]*connectionFile{},
		cats: map[string]*catalogRec{}, jobs: map[int64]*jobFile{}}
	// Definitions' schemas are shared, not stored.
	for _, def := range e.st.sourceDefs {
		sch := def.schemaOf()
		ld.schemas[sch.contentHash()] = sch.streams
	}
	return ld
}

func (ld *loader) apply(r record) error {
	switch {
	case r.Kind == recSchema && r.Schema != nil:
		if _, ok := ld.schemas[r.Schema.Hash]; !ok {
			ld.schemas[r.Schema.Hash] = r.Schema.Streams
		}
	case r.Kind == recCatalog && r.Catalog != nil:
		ld.cats[r.Catalog.ID] = r.Catalog
	case r.Kind == recSource && r.Source != nil:
		ld.sources[r.Source.ID] = r.Source
	case r.Kind == recConnection && r.Connection != nil:
		ld.conns[r.Connection.ID] = r.Connection
	case r.Kind == recJob && r.Job != nil:
		ld.jobs[r.Job.ID] = r.Job
	case r.Kind == recJobGone:
		delete(ld.jobs, r.JobID)
	case r.Kind == recMeta && r.Meta != nil:
		ld.meta = r.Meta
	default:
		return fmt.Errorf("emulator: unknown %q record in the data folder", r.Kind)
	}
	return nil
}

func (ld *loader) schemaHashes() []string {
	out := make([]string, 0, len(ld.schemas))
	for h := range ld.schemas {
		out = append(out, h)
	}
	return out
}

func (ld *loader) streams(hash string) ([]Stream, error) {
	s, ok := ld.schemas[hash]
	if !ok {
		return nil, fmt.Errorf("emulator: the data folder lacks schema %s", hash)
	}
	return s, nil
}

// finish builds the emulator's state from the loaded records.
func (ld *loader) finish() error {
	e := ld.e
	st := e.st
	for id, cr := range ld.cats {
		streams, err := ld.streams(cr.Schema)
		if err != nil {
			return err
		}
		st.catalogs[id] = &actorCatalog{ID: id, Streams: streams, CreatedAt: cr.CreatedAt, hash: cr.Schema}
		st.catalogByHash[cr.Schema] = id
	}
	srcs := make([]*sourceFile, 0, len(ld.sources))
	for _, f := range ld.sources {
		srcs = append(srcs, f)
	}
	slices.SortFunc(srcs, func(a, b *sourceFile) int { return a.Ord - b.Ord })
	for _, f := range srcs {
		s := &sourceRec{ID: f.ID, Name: f.Name, WorkspaceID: f.WorkspaceID, DefinitionID: f.DefinitionID, Config: f.Config,
			CreatedAt: f.CreatedAt, Deleted: f.Deleted, autoBucket: f.AutoBucket, autoCatalog: f.AutoCatalog, lastFetch: f.LastFetch,
			ord: len(st.sourceOrder)}
		switch def := st.sourceDefs[f.DefinitionID]; {
		case f.Upstream != "":
			streams, err := ld.streams(f.Upstream)
			if err != nil {
				return err
			}
			s.upstream = &schema{streams: streams, hash: f.Upstream}
		case def != nil:
			s.upstream = def.schemaOf()
		default:
			return fmt.Errorf("emulator: source %s has definition %s, which is not installed", f.ID, f.DefinitionID)
		}
		keys := make([]string, 0, len(f.Cache))
		for k := range f.Cache {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s.cache = append(s.cache, catalogCacheEntry{key: k, catalogID: f.Cache[k]})
		}
		st.sources[s.ID] = s
		st.sourceOrder = append(st.sourceOrder, s.ID)
	}
	conns := make([]*connectionFile, 0, len(ld.conns))
	for _, f := range ld.conns {
		conns = append(conns, f)
	}
	slices.SortFunc(conns, func(a, b *connectionFile) int { return a.Ord - b.Ord })
	for _, f := range conns {
		c := &connectionRec{ID: f.ID, Name: f.Name, SourceID: f.SourceID, DestinationID: f.DestinationID, WorkspaceID: f.WorkspaceID,
			Status: f.Status, StatusReason: f.StatusReason, ScheduleType: f.ScheduleType, CronExpression: f.CronExpression,
			CronTimeZone: f.CronTimeZone, BasicUnits: f.BasicUnits, BasicTimeUnit: f.BasicTimeUnit,
			NamespaceDefinition: f.NamespaceDefinition, NamespaceFormat: f.NamespaceFormat, Prefix: f.Prefix,
			NonBreakingPreference: f.NonBreakingPreference, BackfillPreference: f.BackfillPreference,
			NotifySchemaChanges: f.NotifySchemaChanges, SourceCatalogID: f.SourceCatalogID, BreakingChange: f.BreakingChange,
			CreatedAt: f.CreatedAt, Tags: f.Tags, lastDiff: f.LastDiff, prunedSuccess: f.PrunedSuccess, ord: len(st.connOrder)}
		for _, sf := range f.Catalog {
			var stream *Stream
			if sf.Stream != nil {
				stream = sf.Stream
			} else {
				streams, err := ld.streams(sf.Schema)
				if err != nil {
					return err
				}
				if sf.Index < 0 || sf.Index >= len(streams) {
					return fmt.Errorf("emulator: connection %s refers to stream %d of schema %s, which has %d", c.ID, sf.Index, sf.Schema, len(streams))
				}
				stream = &streams[sf.Index]
			}
			c.Catalog = append(c.Catalog, catalogStream{stream: stream, config: sf.Config})
		}
		st.connections[c.ID] = c
		st.connOrder = append(st.connOrder, c.ID)
	}
	ids := make([]int64, 0, len(ld.jobs))
	for id := range ld.jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	names := map[string][]string{} // stream name lists, shared between jobs
	for _, id := range ids {
		f := ld.jobs[id]
		key := strings.Join(f.Streams, "\x00")
		if shared, ok := names[key]; ok {
			f.Streams = shared
		} else {
			names[key] = f.Streams
		}
		j := &jobRec{ID: f.ID, ConnectionID: f.ConnectionID, JobType: f.JobType, Status: f.Status, Streams: f.Streams,
			created: f.Created, updated: f.Updated, started: f.Started, nextAt: f.NextAt, failAttempts: f.FailAttempts, failWith: f.FailWith, scale: f.Scale}
		for _, a := range f.Attempts {
			j.Attempts = append(j.Attempts, attemptRec{created: a.Created, ended: a.Ended, status: a.Status, failure: a.Failure})
		}
		st.jobs[j.ID] = j
		st.jobsByConn[j.ConnectionID] = append(st.jobsByConn[j.ConnectionID], j)
		if terminal(j.Status) {
			continue
		}
		st.active[j.ConnectionID] = j
		if j.Status == jobRunning {
			st.runningJobs++
		}
		if f.Due != 0 {
			e.schedule(j, f.Due)
		}
	}
	if m := ld.meta; m != nil {
		st.nextJobID, st.prunedJobs = max(m.NextJobID, st.nextJobID), m.PrunedJobs
		if len(m.IDs) > 0 {
			if err := e.idSource.UnmarshalBinary(m.IDs); err != nil {
				return fmt.Errorf("emulator: restore the id generator: %w", err)
			}
		}
	}
	// The wait list: the jobs that say they wait, in the order the counters
	// last recorded, any others (a crash between the two) after them.
	var order []int64
	if ld.meta != nil {
		order = ld.meta.WaitList
	}
	addWaiting := func(id int64) {
		j, ok := st.jobs[id]
		if !ok || j.waiting || terminal(j.Status) || !ld.jobs[id].Waiting {
			return
		}
		j.waiting = true
		st.waitList = append(st.waitList, j)
		st.waitingJobs++
	}
	for _, id := range order {
		addWaiting(id)
	}
	var latest stamp
	for _, id := range ids {
		addWaiting(id)
		latest = max(latest, st.jobs[id].updated)
	}
	// A worker left free with jobs waiting (a crash between a job's end and the
	// next one's start) goes to them from the last known transition.
	e.dispatch(latest)
	if n := len(ids); n > 0 {
		st.nextJobID = max(st.nextJobID, ids[n-1]+1)
	}
	st.maxRunningJobs, st.maxWaitingJobs = st.runningJobs, st.waitingJobs
	return nil
}

// closeStore writes a snapshot and closes the data folder. Callers hold e.mu.
func (e *Emulator) closeStoreLocked() error {
	st := e.store
	if st == nil || st.log == nil {
		return nil
	}
	err := st.err
	if err == nil {
		err = e.snapshotLocked()
	}
	if cerr := st.log.Close(); err == nil && cerr != nil {
		err = cerr
	}
	st.log = nil
	if st.err == nil {
		st.err = errors.New("emulator: the data folder is closed")
	}
	return err
}
