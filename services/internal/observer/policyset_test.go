package observer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

func TestPolicySetRequests(t *testing.T) {
	t.Parallel()
	env, c, o := observed(t, Config{Heal: HealPolicy, CheckSubject: ""})
	env.Go(o.Run)

	// A policy that does not compile is refused with the compiler's
	// message, and nothing is stored.
	bad := env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: c.ID,
		Policy: json.RawMessage(`{"rules":[{"id":"typo","when":"change.kind = 'x'","action":"pause"}]}`)}, events.WithSubject(c.ID))
	rej := testenv.Data[events.RequestRejected](t, env.WaitFact(bad, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, `connection rule "typo": ERROR: <input>:1:13: Syntax error`)
	notBool := env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: c.ID,
		Policy: json.RawMessage(`{"rules":[{"id":"kind","when":"change.kind","action":"pause"}]}`)}, events.WithSubject(c.ID))
	rej = testenv.Data[events.RequestRejected](t, env.WaitFact(notBool, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "when must return a bool, not string")
	list, err := env.Store.PolicyList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Empty(t, list)

	// A valid policy is version 1; a change is version 2; the same
	// request again is still version 2.
	first := env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: c.ID,
		Policy: json.RawMessage(`{"rules":[{"id":"all","when":"true","action":"require_approval"}]}`)}, events.WithSubject(c.ID))
	set := testenv.Data[events.PolicySet](t, env.WaitFact(first, events.TypePolicySet))
	require.Equal(t, 1, set.Version)
	second := env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: c.ID,
		Policy: json.RawMessage(`{"rules":[{"id":"types","when":"change.kind.startsWith('type_')","action":"ignore"},
			{"id":"rest","when":"true","action":"require_approval"}]}`)}, events.WithSubject(c.ID))
	set = testenv.Data[events.PolicySet](t, env.WaitFact(second, events.TypePolicySet))
	require.Equal(t, 2, set.Version)
	env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: c.ID,
		Policy: json.RawMessage(`{"rules":[{"id":"all","when":"true","action":"pause"}]}`)}, events.WithID(second), events.WithSubject(c.ID))
	require.Never(t, func() bool {
		l, err := env.Store.PolicyList(env.Ctx, c.ID)
		return err != nil || len(l) != 2
	}, time.Second, 50*time.Millisecond)
	list, err = env.Store.PolicyList(env.Ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.JSONEq(t, string(set.Policy), string(list[1].Policy))

	// The version in force decides, and says so.
	mutate(t, env, c, emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"})
	r := check(t, env, o, c.ID)
	require.Equal(t, "ignore", r.Decision.Action)
	require.Equal(t, "types", r.Decision.RuleID)
	require.Equal(t, 2, r.Decision.PolicyVersion)
	require.Equal(t, registry.DriftIgnored, mustDrift(t, env, c.ID).Status)

	// An unknown connection is refused.
	missing := env.Publish(events.TypePolicyRequested, events.PolicySetRequested{ConnectionID: registry.NewID(),
		Policy: json.RawMessage(`{"rules":[]}`)})
	rej = testenv.Data[events.RequestRejected](t, env.WaitFact(missing, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "is not registered")
}
