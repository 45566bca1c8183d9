package observer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// PolicyConsumer is the durable consumer of policy set requests.
const PolicyConsumer = "schema-observer-policy"

// PolicyRoute is the observer's route for
// io.aam.connection.policy.set.requested.v1.
func (o *Observer) PolicyRoute() bus.Route[events.PolicySetRequested] { return PolicyRoute(o.store) }

// PolicyRoute is the route for io.aam.connection.policy.set.requested.v1
// on store, as the observer serves it.
func PolicyRoute(store *registry.Store) bus.Route[events.PolicySetRequested] {
	return bus.Route[events.PolicySetRequested]{
		Consumer: PolicyConsumer,
		Subject:  events.SubjectPolicyRequest,
		Type:     events.TypePolicyRequested,
		Handle:   policySetter{store}.setPolicy,
	}
}

type policySetter struct{ store *registry.Store }

// ParsePolicy decodes and compiles a policy document; the error is the
// compiler's message for every rule that is wrong.
func ParsePolicy(doc json.RawMessage) (drift.Policy, error) {
	var p drift.Policy
	d := json.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return drift.Policy{}, fmt.Errorf("%w: %w", drift.ErrInvalidPolicy, err)
	}
	if _, err := drift.Compile(p, 0); err != nil {
		return drift.Policy{}, err
	}
	return p, nil
}

// setPolicy stores a policy as the connection's next version, once per
// request, with the policy_set fact; a policy whose expressions do not
// compile or return no boolean is refused (request.rejected with the
// compiler's message) and nothing is stored.
func (o policySetter) setPolicy(ctx context.Context, ev bus.Event[events.PolicySetRequested]) error {
	p, err := ParsePolicy(ev.Data.Policy)
	if err != nil {
		return bus.Permanent(err)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return bus.Permanent(err)
	}
	id := ev.Data.ConnectionID
	err = o.store.InTx(ctx, func(q *registry.Queries) error {
		if err := app.RecordOnce(ctx, q, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone}); err != nil {
			return err
		}
		if _, err := q.ConnectionGetForUpdate(ctx, id); err != nil {
			if registry.IsNotFound(err) {
				return bus.Permanent(fmt.Errorf("connection %s is not registered", id))
			}
			return err
		}
		stored, _, err := q.PolicyCreate(ctx, id, doc, ev.Source, ev.ID)
		if err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypePolicySet, Source, id, outbox.RequestOf(ev),
			events.PolicySet{ConnectionID: id, Version: stored.Version, Policy: stored.Policy})
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	return err
}
