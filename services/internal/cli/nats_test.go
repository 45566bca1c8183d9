package cli

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// TestConnectNATSTakesTheSharedConfiguration checks that the command line
// connects as every role does: NATS_USER and NATS_PASSWORD authenticate
// it, and NATS_INBOX_PREFIX names its reply subjects, so that a user who
// may only read its own inboxes can ask the mesh (the credential broker,
// the observer) for answers.
func TestConnectNATSTakesTheSharedConfiguration(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, Users: []*server.User{
		{Username: "cli", Password: "cli-pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"aam.test.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_cli.>"}},
		}},
		{Username: "svc", Password: "svc-pw"},
	}})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(5*time.Second))

	svc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("svc", "svc-pw"))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	sub, err := svc.Subscribe("aam.test.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, svc.Flush())

	t.Setenv("NATS_URL", ns.ClientURL())
	t.Setenv("NATS_USER", "cli")
	t.Setenv("NATS_PASSWORD", "cli-pw")
	ask := func(f *clientFlags) error {
		nc, _, err := f.connectNATS()
		if err != nil {
			return err
		}
		defer nc.Close()
		_, err = nc.Request("aam.test.echo", []byte("ping"), 2*time.Second)
		return err
	}

	t.Setenv("NATS_INBOX_PREFIX", "_INBOX_cli")
	require.NoError(t, ask(&clientFlags{}))
	// The flags win over the variables.
	require.Error(t, ask(&clientFlags{natsUser: "nobody"}))

	// Without the prefix the replies go to _INBOX, which this user may not
	// read: no answer.
	t.Setenv("NATS_INBOX_PREFIX", "")
	require.Error(t, ask(&clientFlags{}))

	t.Setenv("NATS_INBOX_PREFIX", "bad prefix")
	_, _, err = (&clientFlags{}).connectNATS()
	require.ErrorContains(t, err, "NATS_INBOX_PREFIX")
}
