package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// Drift is a drift the schema observer found, with its classified changes
// and the decision taken.
type Drift struct {
	DriftID        string `json:"drift_id"`
	ConnectionID   string `json:"connection_id"`
	CatalogVersion int    `json:"catalog_version"`
	// Breaking is Airbyte's verdict; each change carries AAM's.
	Breaking bool `json:"breaking"`
	// Status is where the decision stands: "" (reported only), propagated,
	// ignored, paused, approval_requested, approved, rejected.
	Status          string          `json:"status"`
	Action          string          `json:"action"`
	RuleID          string          `json:"rule_id"`
	PolicyVersion   int             `json:"policy_version"`
	Changes         json.RawMessage `json:"changes"`
	Decisions       json.RawMessage `json:"decisions"`
	Diff            json.RawMessage `json:"diff"`
	RepairRequestID string          `json:"repair_request_id,omitempty"`
	DetectedAt      time.Time       `json:"detected_at"`
	ResolvedAt      *time.Time      `json:"resolved_at,omitempty"`
}

// DriftList lists a connection's drifts, oldest first.
type DriftList struct {
	Drifts []Drift `json:"drifts"`
}

// DriftFrom converts a registry row.
func DriftFrom(d registry.Drift) Drift {
	return Drift{
		DriftID: observer.DriftID(d.CatalogVersion, d.DiscoveredHash), ConnectionID: d.ConnectionID,
		CatalogVersion: d.CatalogVersion, Breaking: d.Breaking, Status: d.Status, Action: d.Action, RuleID: d.RuleID,
		PolicyVersion: d.PolicyVersion, Changes: d.Changes, Decisions: d.Decisions, Diff: d.Diff,
		RepairRequestID: d.RepairRequestID, DetectedAt: d.DetectedAt.UTC(), ResolvedAt: utcPtr(d.ResolvedAt),
	}
}

// VersionDiff is the difference between two catalog versions of a
// connection, in Airbyte's CatalogDiff form and classified, with the
// streams Airbyte would need to refresh or clear.
type VersionDiff struct {
	ConnectionID string `json:"connection_id"`
	From         int    `json:"from"`
	To           int    `json:"to"`
	drift.Delta
}

func (s *Server) handleDrifts(w http.ResponseWriter, r *http.Request) {
	drifts, ok := connectionRows(s, w, r, "drifts", s.store.DriftList, DriftFrom)
	if ok {
		writeJSON(w, http.StatusOK, DriftList{Drifts: drifts})
	}
}

// handleDriftCheck asks the schema observer to check a connection now
// (NATS request/reply on observer.SubjectCheck) and answers its result.
// ?wait= bounds the wait (default 60s, at most 10m).
func (s *Server) handleDriftCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.store.ConnectionGet(r.Context(), id); err != nil {
		s.registryError(w, err, "connection "+id)
		return
	}
	wait := time.Minute
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 10*time.Minute {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("wait %q is not a duration between 0 and 10m", v), Field: "wait"})
			return
		}
		wait = d
	}
	body, _ := json.Marshal(observer.CheckRequest{ConnectionID: id})
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	msg, err := s.nc.RequestWithContext(ctx, observer.SubjectCheck, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, Error{Error: "no schema observer is running"})
		return
	case err != nil:
		writeError(w, http.StatusGatewayTimeout, Error{Error: "the schema observer did not answer in " + wait.String()})
		return
	}
	var reply observer.CheckReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		writeError(w, http.StatusBadGateway, Error{Error: "the schema observer's answer does not decode"})
		return
	}
	status := http.StatusOK
	if reply.Error != "" {
		status = http.StatusBadGateway
	}
	writeJSON(w, status, reply)
}

// handleVersionDiff answers the difference between versions a and b of a
// connection's catalog: b's streams measured against a's, as the observer
// measures a discovered catalog against a version.
func (s *Server) handleVersionDiff(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var nums [2]int
	for i, name := range []string{"a", "b"} {
		raw := r.PathValue(name)
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("version %q is not a positive integer", raw), Field: name})
			return
		}
		nums[i] = n
	}
	var cats [2]airbyte.AirbyteCatalog
	for i, n := range nums {
		v, err := s.store.CatalogVersionGet(r.Context(), id, n)
		if err != nil {
			s.registryError(w, err, fmt.Sprintf("catalog version %d of connection %s", n, id))
			return
		}
		if err := json.Unmarshal(v.SyncCatalog, &cats[i]); err != nil {
			writeError(w, http.StatusInternalServerError, Error{Error: fmt.Sprintf("catalog version %d does not decode", n)})
			return
		}
	}
	writeJSON(w, http.StatusOK, VersionDiff{ConnectionID: id, From: nums[0], To: nums[1], Delta: drift.Compare(&cats[0], &cats[1])})
}

// Policy is a connection's drift policy in force and its history.
type Policy struct {
	ConnectionID string `json:"connection_id"`
	// Version is the version in force; 0 is the default policy.
	Version  int             `json:"version"`
	Policy   json.RawMessage `json:"policy"`
	Versions []PolicyVersion `json:"versions"`
}

// PolicyVersion is one stored version of a connection's drift policy.
type PolicyVersion struct {
	Version   int             `json:"version"`
	Policy    json.RawMessage `json:"policy"`
	RequestID string          `json:"request_id"`
	CreatedAt time.Time       `json:"created_at"`
}

func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	versions, ok := connectionRows(s, w, r, "drift policy", s.store.PolicyList, func(p registry.DriftPolicy) PolicyVersion {
		return PolicyVersion{Version: p.Version, Policy: p.Policy, RequestID: p.RequestID, CreatedAt: p.CreatedAt.UTC()}
	})
	if !ok {
		return
	}
	out := Policy{ConnectionID: r.PathValue("id"), Versions: versions}
	if n := len(versions); n > 0 {
		out.Version, out.Policy = versions[n-1].Version, versions[n-1].Policy
	} else {
		out.Policy, _ = json.Marshal(drift.DefaultPolicy())
	}
	writeJSON(w, http.StatusOK, out)
}
