package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aam-mesh/aam/events"
)

// Request is one request the publisher sent, as the checker sees it.
type Request struct {
	// ID is the CloudEvent id (and Nats-Msg-Id); empty for a message that
	// has none.
	ID string
	// Kind is onboard, sync, repair or policy for a good request, or what
	// is wrong with a bad one (Bad set).
	Kind string
	Bad  bool
	// Subject and Seq are where JetStream stored it (Seq 0: the server
	// refused it at publish, Refused).
	Subject string
	Seq     uint64
	Refused bool
	// Name is an onboarding's connection name.
	Name string
	// Terminal are the fact types that answer it.
	Terminal []string
	SentAt   time.Time
}

// Fact is one message of AAM_EVENTS.
type Fact struct {
	Seq         uint64
	ID          string
	Type        string
	Correlation string
	Subject     string
	Headers     string
	Data        []byte
	Time        time.Time
}

// DLQEntry is one message of AAM_DLQ.
type DLQEntry struct {
	Subject string
	Reason  string
	Headers string
	Data    []byte
}

// EmuSource and EmuConnection are the emulated Airbyte's sources and
// connections (GET /_emulator/state).
type EmuSource struct {
	ID      string `json:"sourceId"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
}

// EmuConnection is an emulated Airbyte connection.
type EmuConnection struct {
	ID       string `json:"connectionId"`
	Name     string `json:"name"`
	SourceID string `json:"sourceId"`
}

// CatalogVersion is one row of sync_catalog_versions: which request made it.
type CatalogVersion struct {
	ConnectionID string
	Version      int
	RequestID    string
}

// Outside is everything the checker reads: the stream of facts, the
// dead-letter stream, the emulated Airbyte's state and the registry.
type Outside struct {
	Facts          []Fact
	DLQ            []DLQEntry
	Sources        []EmuSource
	Connections    []EmuConnection
	EmulatorJobs   int
	CatalogVersion []CatalogVersion
	// Rows are the registry's rows as text (ciphertext columns left out),
	// by table.
	Rows map[string][]string
	// Logs are the log files of every process of the run.
	Logs []string
}

// Report is the checker's outcome.
type Report struct {
	Seed    uint64
	Sent    int
	ByKind  map[string]int
	Good    int
	Bad     int
	One     int
	None    int
	More    int
	Refused int
	// NoReason counts rejections without a reason.
	NoReason int
	// Outcomes counts the terminal facts by type.
	Outcomes map[string]int
	// Onboardings: the most Airbyte sources and connections one onboarding
	// made, and the onboardings that made more than one of either.
	Onboarded      int
	MaxSources     int
	MaxConnections int
	ExtraOnboards  int
	// MissingAirbyte counts onboarded connections with no Airbyte
	// connection of their name.
	MissingAirbyte int
	// Sync: requests answered by more than one job, and emulator jobs no
	// sync fact names (started beyond the attach rule).
	MultiJobSyncs int
	ExtraJobs     int
	Jobs          int
	// Repairs: requests that made more than one catalog version, and
	// catalog.versioned facts without their version row.
	MultiVersionRepairs int
	// DLQ entries by reason.
	DLQ map[string]int
	// P50, P99 and MaxLatency are the good requests' times from their
	// publish to their terminal fact.
	P50        time.Duration
	P99        time.Duration
	MaxLatency time.Duration
	// Quiescence is the time from the last fault to the last terminal fact.
	Quiescence time.Duration
	// Leaks name where a credential's plaintext was found.
	Leaks []string
	// Examples of broken requests (ids), a few of each.
	Missing   []string
	Duplicate []string
	// Faults counts the faults done, by kind.
	Faults map[string]int
	// Broken lists every broken invariant; empty when the run passed.
	Broken []string
}

// Check counts what the outside shows for the requests sent and lists the
// broken invariants. secrets are the plaintext credentials to look for;
// lastFault is when the last fault ended.
func Check(sent []Request, out Outside, secrets []string, lastFault time.Time) *Report {
	r := &Report{ByKind: map[string]int{}, Outcomes: map[string]int{}, DLQ: map[string]int{}, Faults: map[string]int{}}
	r.Sent = len(sent)

	byCorr := map[string][]*Fact{}
	rejectedBySeq := map[uint64][]*Fact{}
	var lastTerminal time.Time
	for i := range out.Facts {
		f := &out.Facts[i]
		if f.Correlation != "" {
			byCorr[f.Correlation] = append(byCorr[f.Correlation], f)
		}
		if f.Type == events.TypeRequestRejected {
			var d events.RequestRejected
			if json.Unmarshal(f.Data, &d) == nil {
				if d.RequestID == "" && d.StreamSequence != 0 {
					rejectedBySeq[d.StreamSequence] = append(rejectedBySeq[d.StreamSequence], f)
				}
				if strings.TrimSpace(d.Reason) == "" {
					r.NoReason++
				}
			}
		}
	}

	var lat []time.Duration
	onboardNames := map[string]bool{}
	syncIDs := map[string]bool{}
	repairIDs := map[string]bool{}
	for _, q := range sent {
		r.ByKind[q.Kind]++
		if q.Bad {
			r.Bad++
		} else {
			r.Good++
		}
		if q.Refused {
			r.Refused++
			continue
		}
		var terms []*Fact
		if q.ID != "" {
			for _, f := range byCorr[q.ID] {
				if slices.Contains(q.Terminal, f.Type) {
					terms = append(terms, f)
				}
			}
		}
		if q.Bad {
			for _, f := range rejectedBySeq[q.Seq] {
				if f.Correlation == "" || f.Correlation != q.ID {
					terms = append(terms, f)
				}
			}
		}
		switch len(terms) {
		case 0:
			r.None++
			if len(r.Missing) < 10 {
				r.Missing = append(r.Missing, q.Kind+" "+cmpID(q))
			}
		case 1:
			r.One++
		default:
			r.More++
			if len(r.Duplicate) < 10 {
				r.Duplicate = append(r.Duplicate, q.Kind+" "+cmpID(q))
			}
		}
		if len(terms) > 0 && !q.Bad && !q.SentAt.IsZero() {
			lat = append(lat, terms[0].Time.Sub(q.SentAt))
		}
		for _, f := range terms {
			r.Outcomes[shortType(f.Type)]++
			if f.Time.After(lastTerminal) {
				lastTerminal = f.Time
			}
		}
		switch {
		case q.Kind == kindOnboard && len(terms) > 0 && terms[0].Type == events.TypeOnboarded:
			onboardNames[q.Name] = true
		case q.Kind == kindSync:
			syncIDs[q.ID] = true
		case q.Kind == kindRepair:
			repairIDs[q.ID] = true
		}
	}

	// Airbyte objects per onboarding, by the connection's unique name.
	// AAM names them "<connection name> [aam:<registry id prefix>]"; the
	// name alone is the request's, so two registry rows for one request
	// show too.
	srcPerName := map[string]int{}
	for _, s := range out.Sources {
		if !s.Deleted {
			srcPerName[requestName(s.Name)]++
		}
	}
	connPerName := map[string]int{}
	for _, c := range out.Connections {
		connPerName[requestName(c.Name)]++
	}
	names := map[string]bool{}
	for n := range srcPerName {
		names[n] = true
	}
	for n := range connPerName {
		names[n] = true
	}
	for n := range names {
		r.MaxSources = max(r.MaxSources, srcPerName[n])
		r.MaxConnections = max(r.MaxConnections, connPerName[n])
		if srcPerName[n] > 1 || connPerName[n] > 1 {
			r.ExtraOnboards++
		}
	}
	r.Onboarded = len(onboardNames)
	for n := range onboardNames {
		if connPerName[n] == 0 {
			r.MissingAirbyte++
		}
	}

	// Jobs per sync request: the distinct jobs its facts name.
	jobsPerReq := map[string]map[string]bool{}
	allJobs := map[string]bool{}
	for _, f := range out.Facts {
		if !strings.HasPrefix(f.Type, "io.aam.sync.") {
			continue
		}
		var d struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal(f.Data, &d) != nil || d.JobID == "" {
			continue
		}
		allJobs[d.JobID] = true
		if syncIDs[f.Correlation] {
			if jobsPerReq[f.Correlation] == nil {
				jobsPerReq[f.Correlation] = map[string]bool{}
			}
			jobsPerReq[f.Correlation][d.JobID] = true
		}
	}
	for _, jobs := range jobsPerReq {
		if len(jobs) > 1 {
			r.MultiJobSyncs++
		}
	}
	r.Jobs = out.EmulatorJobs
	r.ExtraJobs = max(0, out.EmulatorJobs-len(allJobs))

	// Catalog versions per repair request.
	versions := map[string]int{}
	for _, v := range out.CatalogVersion {
		if repairIDs[v.RequestID] {
			versions[v.RequestID]++
		}
	}
	for _, n := range versions {
		if n > 1 {
			r.MultiVersionRepairs++
		}
	}

	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P99, r.MaxLatency = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	for _, d := range out.DLQ {
		r.DLQ[cmpOr(idPattern.ReplaceAllString(d.Reason, "<id>"), "(no reason)")]++
	}
	if !lastFault.IsZero() && lastTerminal.After(lastFault) {
		r.Quiescence = lastTerminal.Sub(lastFault)
	}
	r.Leaks = scanSecrets(out, secrets)

	if r.None > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d requests without a terminal fact (lost): %s", r.None, strings.Join(r.Missing, ", ")))
	}
	if r.More > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d requests with more than one terminal fact: %s", r.More, strings.Join(r.Duplicate, ", ")))
	}
	if r.NoReason > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d rejections without a reason", r.NoReason))
	}
	if r.ExtraOnboards > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d onboardings made more than one Airbyte source or connection", r.ExtraOnboards))
	}
	if r.MissingAirbyte > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d onboarded connections have no Airbyte connection", r.MissingAirbyte))
	}
	if r.MultiJobSyncs > 0 || r.ExtraJobs > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("sync jobs beyond the attach rule: %d requests with several jobs, %d emulator jobs no fact names", r.MultiJobSyncs, r.ExtraJobs))
	}
	if r.MultiVersionRepairs > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%d repairs made more than one catalog version", r.MultiVersionRepairs))
	}
	if len(r.Leaks) > 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("credential plaintext found in %d places: %s", len(r.Leaks), strings.Join(r.Leaks[:min(10, len(r.Leaks))], ", ")))
	}
	return r
}

// idPattern matches the ids in a DLQ reason, so that reasons group.
var idPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// requestName is the connection name an Airbyte object was named after.
func requestName(objectName string) string {
	name, _, _ := strings.Cut(objectName, " [aam:")
	return name
}

func cmpID(q Request) string {
	if q.ID != "" {
		return q.ID
	}
	return fmt.Sprintf("seq %d", q.Seq)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func shortType(t string) string {
	return strings.TrimSuffix(strings.TrimPrefix(t, "io.aam."), ".v1")
}

// scanSecrets names every place of out where one of secrets appears.
func scanSecrets(out Outside, secrets []string) []string {
	var needles [][]byte
	for _, s := range secrets {
		if len(s) >= 8 {
			needles = append(needles, []byte(s))
		}
	}
	has := func(b []byte) bool {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				return true
			}
		}
		return false
	}
	var leaks []string
	for _, f := range out.Facts {
		if has(f.Data) || has([]byte(f.Headers)) {
			leaks = append(leaks, fmt.Sprintf("event %s seq %d", shortType(f.Type), f.Seq))
		}
	}
	for _, d := range out.DLQ {
		if has(d.Data) || has([]byte(d.Headers)) {
			leaks = append(leaks, "dlq "+d.Subject)
		}
	}
	tables := make([]string, 0, len(out.Rows))
	for t := range out.Rows {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		for _, row := range out.Rows[t] {
			if has([]byte(row)) {
				leaks = append(leaks, "table "+t)
				break
			}
		}
	}
	for _, path := range out.Logs {
		if n := fileHas(path, needles); n > 0 {
			leaks = append(leaks, fmt.Sprintf("log %s (%d lines)", path, n))
		}
	}
	return leaks
}

// fileHas counts the lines of the file at path holding one of needles.
func fileHas(path string, needles [][]byte) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for {
		line, err := rd.ReadSlice('\n')
		for _, s := range needles {
			if bytes.Contains(line, s) {
				n++
				break
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF || err != nil {
			return n
		}
	}
}

// counts lists m as "key n, key n", by key.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	row := func(name string, v any, want string) {
		fmt.Fprintf(w, "  %-56s %18v   %s\n", name, v, want)
	}
	fmt.Fprintf(w, "\nchaos run, seed %d\n", r.Seed)
	fmt.Fprintf(w, "  requests by kind: %s\n", counts(r.ByKind))
	fmt.Fprintf(w, "  faults done: %s\n", counts(r.Faults))
	fmt.Fprintf(w, "  terminal facts: %s\n\n", counts(r.Outcomes))
	fmt.Fprintf(w, "  %-56s %18s   %s\n", "", "value", "want")
	row("requests sent (good + bad)", fmt.Sprintf("%d+%d", r.Good, r.Bad), "")
	row("requests with exactly one terminal fact", r.One, fmt.Sprintf("%d", r.Sent-r.Refused))
	row("requests with no terminal fact", r.None, "0")
	row("requests with more than one terminal fact", r.More, "0")
	row("over-limit bodies refused at publish (max payload)", r.Refused, "")
	row("rejections without a reason", r.NoReason, "0")
	row("onboarded connections", r.Onboarded, "")
	row("Airbyte sources per onboarding (max)", r.MaxSources, "1")
	row("Airbyte connections per onboarding (max)", r.MaxConnections, "1")
	row("onboardings with extra Airbyte objects", r.ExtraOnboards, "0")
	row("onboarded without an Airbyte connection", r.MissingAirbyte, "0")
	row("sync requests answered by several jobs", r.MultiJobSyncs, "0")
	row(fmt.Sprintf("emulator jobs (%d) beyond those the facts name", r.Jobs), r.ExtraJobs, "0")
	row("repairs with more than one catalog version", r.MultiVersionRepairs, "0")
	dl := 0
	for _, n := range r.DLQ {
		dl += n
	}
	row("DLQ entries", dl, "")
	reasons := make([]string, 0, len(r.DLQ))
	for reason := range r.DLQ {
		reasons = append(reasons, reason)
	}
	sort.Slice(reasons, func(i, j int) bool {
		return r.DLQ[reasons[i]] > r.DLQ[reasons[j]] || r.DLQ[reasons[i]] == r.DLQ[reasons[j]] && reasons[i] < reasons[j]
	})
	for _, reason := range reasons {
		fmt.Fprintf(w, "      %6d  %s\n", r.DLQ[reason], reason)
	}
	row("good requests: publish to terminal fact p50 / p99 / max", fmt.Sprintf("%s / %s / %s",
		r.P50.Round(10*time.Millisecond), r.P99.Round(10*time.Millisecond), r.MaxLatency.Round(10*time.Millisecond)), "")
	row("last fault to quiescence", r.Quiescence.Round(100*time.Millisecond), "")
	row("places holding a credential's plaintext", len(r.Leaks), "0")
	if len(r.Broken) == 0 {
		fmt.Fprintf(w, "\nPASS: every invariant holds\n")
		return
	}
	fmt.Fprintf(w, "\nFAIL: %d invariants broken\n", len(r.Broken))
	for _, b := range r.Broken {
		fmt.Fprintf(w, "  - %s\n", b)
	}
}
