package events_test

import (
	"strings"
	"testing"

	"github.com/aam-mesh/aam/events"
)

func TestCatalogDescriptors(t *testing.T) {
	t.Parallel()
	cat := events.Catalog()
	if len(cat) == 0 {
		t.Fatal("empty catalog")
	}
	types := map[string]bool{}
	subjects := map[string]string{}
	schemas := map[string]bool{}
	for i, d := range cat {
		if types[d.Type] {
			t.Errorf("type %s listed twice", d.Type)
		}
		types[d.Type] = true
		if !strings.HasPrefix(d.Type, "io.aam.") || !strings.HasSuffix(d.Type, ".v1") {
			t.Errorf("type %s: want io.aam.<name>.v1", d.Type)
		}
		// The schema file is the type without its io.aam. prefix.
		if want := strings.TrimPrefix(d.Type, "io.aam.") + ".json"; d.Schema != want {
			t.Errorf("%s: schema %q, want %q", d.Type, d.Schema, want)
		}
		if schemas[d.Schema] {
			t.Errorf("schema %s used twice", d.Schema)
		}
		schemas[d.Schema] = true
		if want := events.DataSchemaBase + d.Schema; d.DataSchema() != want {
			t.Errorf("%s: DataSchema() = %q, want %q", d.Type, d.DataSchema(), want)
		}
		if strings.ContainsAny(d.Subject, "*> \t") || strings.Contains(d.Subject, "..") || strings.HasSuffix(d.Subject, ".") {
			t.Errorf("%s: subject %q is not a literal NATS subject", d.Type, d.Subject)
		}
		switch d.Kind {
		case events.KindRequest:
			if !strings.HasPrefix(d.Subject, "aam.requests.") {
				t.Errorf("request %s on %s, want aam.requests.*", d.Type, d.Subject)
			}
			if !strings.HasSuffix(d.Type, ".requested.v1") {
				t.Errorf("request type %s should end with .requested.v1", d.Type)
			}
			if prev, dup := subjects[d.Subject]; dup {
				t.Errorf("request subject %s carries %s and %s", d.Subject, prev, d.Type)
			}
			subjects[d.Subject] = d.Type
			if got, ok := events.RequestTypeForSubject(d.Subject); !ok || got != d.Type {
				t.Errorf("RequestTypeForSubject(%s) = %q, %v; want %s", d.Subject, got, ok, d.Type)
			}
		case events.KindFact:
			if !strings.HasPrefix(d.Subject, "aam.events.") {
				t.Errorf("fact %s on %s, want aam.events.*", d.Type, d.Subject)
			}
			if prev, dup := subjects[d.Subject]; dup {
				t.Errorf("fact subject %s carries %s and %s", d.Subject, prev, d.Type)
			}
			subjects[d.Subject] = d.Type
			if _, ok := events.RequestTypeForSubject(d.Subject); ok {
				t.Errorf("RequestTypeForSubject(%s) accepted a fact subject", d.Subject)
			}
		default:
			t.Errorf("%s: kind %v", d.Type, d.Kind)
		}
		if d.Summary == "" {
			t.Errorf("%s: no summary", d.Type)
		}
		if d.New == nil || d.New() == nil {
			t.Errorf("%s: New returns no payload", d.Type)
		} else if d.New() == d.New() {
			t.Errorf("%s: New returns a shared value", d.Type)
		}
		got, ok := events.Lookup(d.Type)
		if !ok || got.Subject != d.Subject || got.Schema != d.Schema {
			t.Errorf("Lookup(%s) = %+v, %v", d.Type, got, ok)
		}
		if i > 0 {
			prev := cat[i-1]
			if prev.Kind > d.Kind || (prev.Kind == d.Kind && prev.Type >= d.Type) {
				t.Errorf("catalog not ordered: %s before %s", prev.Type, d.Type)
			}
		}
	}
	if _, ok := events.Lookup("io.aam.unknown.v1"); ok {
		t.Error("Lookup found an unknown type")
	}
	if _, ok := events.RequestTypeForSubject("aam.requests.unknown"); ok {
		t.Error("RequestTypeForSubject found an unknown subject")
	}

	// Catalog returns a copy.
	cat[0].Type = "changed"
	if events.Catalog()[0].Type == "changed" {
		t.Error("Catalog shares its slice with the caller")
	}
}

func TestCatalogCoversConstants(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{
		events.TypeOnboardRequested, events.TypeSyncRequested, events.TypeRepairRequested,
		events.TypeOnboarded, events.TypeOnboardFailed, events.TypeSyncStarted, events.TypeSyncSucceeded,
		events.TypeSyncFailed, events.TypeSyncCancelled, events.TypeCatalogVersioned, events.TypeRepairFailed,
		events.TypeDriftDetected, events.TypeRequestRejected, events.TypeApprovalRequested, events.TypeConnectionPaused,
		events.TypePolicyRequested, events.TypePolicySet, events.TypeResolveRequested, events.TypeDriftResolved,
		events.TypeDeleteRequested, events.TypeConnectionDeleted,
		events.TypeReleaseRequested, events.TypeHealthWarning, events.TypeQuarantined, events.TypeReleased, events.TypeSyncAnomaly, events.TypeConnectionOrphaned, events.TypeRollbackRequested,
		events.TypeRollbackPlanned,
	} {
		if _, ok := events.Lookup(typ); !ok {
			t.Errorf("%s is not in the catalog", typ)
		}
	}
	if n := len(events.Catalog()); n != 29 {
		t.Errorf("catalog has %d types; update this test and the schemas when adding one", n)
	}
}

func TestStreamSubjectsCoverCatalog(t *testing.T) {
	t.Parallel()
	for _, d := range events.Catalog() {
		wildcard := events.SubjectEventsAll
		if d.Kind == events.KindRequest {
			wildcard = events.SubjectRequestsAll
		}
		if !strings.HasPrefix(d.Subject, strings.TrimSuffix(wildcard, ">")) {
			t.Errorf("%s is outside %s", d.Subject, wildcard)
		}
		if d.Kind == events.KindRequest {
			dlq := events.DLQSubject(d.Subject)
			if !strings.HasPrefix(dlq, strings.TrimSuffix(events.SubjectDLQAll, ">")) {
				t.Errorf("DLQ subject %s is outside %s", dlq, events.SubjectDLQAll)
			}
		}
	}
}

func TestDLQSubject(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{events.SubjectOnboardRequest, "aam.dlq.connection.onboard"},
		{events.SubjectSyncRequest, "aam.dlq.connection.sync"},
		{events.SubjectRepairRequest, "aam.dlq.connection.repair"},
		{"aam.requests.x", "aam.dlq.x"},
		{"aam.requests.", "aam.dlq.other"},
		{"aam.requests", "aam.dlq.other"},
		{"aam.events.sync.started", "aam.dlq.other"},
		{"", "aam.dlq.other"},
	}
	for _, tt := range tests {
		if got := events.DLQSubject(tt.in); got != tt.want {
			t.Errorf("DLQSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKindAndModeStrings(t *testing.T) {
	t.Parallel()
	for v, want := range map[interface{ String() string }]string{
		events.KindRequest: "request", events.KindFact: "fact", events.Kind(0): "unknown",
		events.Binary: "binary", events.Structured: "structured", events.Mode(0): "unknown",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

func TestDeterministicID(t *testing.T) {
	t.Parallel()
	a := events.DeterministicID("/billing", "req-1", events.TypeSyncStarted)
	if a != events.DeterministicID("/billing", "req-1", events.TypeSyncStarted) {
		t.Error("DeterministicID is not stable")
	}
	for _, other := range []string{
		events.DeterministicID("/billing", "req-1", events.TypeSyncSucceeded),
		events.DeterministicID("/billing", "req-2", events.TypeSyncStarted),
		events.DeterministicID("/other", "req-1", events.TypeSyncStarted),
		events.DeterministicID("/billing/req-1", "", events.TypeSyncStarted),
	} {
		if other == a {
			t.Errorf("DeterministicID collides: %s", a)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeSyncRequested, "/billing", events.SyncRequested{ConnectionID: goldenConnectionID})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() == "" || e.Time().IsZero() {
		t.Errorf("New left id or time empty: %v", e)
	}
	d := mustLookup(t, events.TypeSyncRequested)
	if e.DataSchema() != d.DataSchema() || e.DataContentType() != events.MediaTypeJSON {
		t.Errorf("dataschema %q, datacontenttype %q", e.DataSchema(), e.DataContentType())
	}
	if got := string(e.Data()); got != syncBody {
		t.Errorf("data = %s, want %s", got, syncBody)
	}
	if _, err := events.New(events.TypeSyncRequested, "", nil); err == nil {
		t.Error("New without source succeeded")
	}
	if _, err := events.New(events.TypeSyncRequested, "/s", func() {}); err == nil {
		t.Error("New with unencodable data succeeded")
	}
	other, err := events.New("com.example.other", "/s", nil, events.WithCorrelationID(""), events.WithTraceParent(""))
	if err != nil {
		t.Fatal(err)
	}
	if other.DataSchema() != "" || len(other.Extensions()) != 0 || other.Data() != nil {
		t.Errorf("event of an unknown type: %v", other)
	}
}
