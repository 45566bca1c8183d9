package credentials

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImportSalesforceEnv(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	environ := map[string]string{
		"SALESFORCE_CLIENT_ID":     "3MVG9-client-id",
		"SALESFORCE_CLIENT_SECRET": testSecret,
		"SALESFORCE_REFRESH_TOKEN": testToken,
		"SALESFORCE_IS_SANDBOX":    "true",
		"SALESFORCE_START_DATE":    "2024-01-01",
	}

	// Nothing set: nothing imported.
	_, outcome, err := ImportSalesforceEnv(ctx, b.store, map[string]string{"OTHER": "x"})
	require.NoError(t, err)
	require.Equal(t, OutcomeSkipped, outcome)

	md, outcome, err := ImportSalesforceEnv(ctx, b.store, environ)
	require.NoError(t, err)
	require.Equal(t, OutcomeCreated, outcome)
	require.Equal(t, DefaultSalesforceCredentialID, md.ID)
	require.Equal(t, 1, md.Version)

	// A restart with the same environment keeps version 1.
	md, outcome, err = ImportSalesforceEnv(ctx, b.store, environ)
	require.NoError(t, err)
	require.Equal(t, OutcomeUnchanged, outcome)
	require.Equal(t, 1, md.Version)

	got, err := b.store.Get(ctx, DefaultSalesforceCredentialID)
	require.NoError(t, err)
	sf, err := got.Salesforce()
	require.NoError(t, err)
	require.Equal(t, Salesforce{ClientID: "3MVG9-client-id", ClientSecret: testSecret, RefreshToken: testToken,
		AuthType: "Client", IsSandbox: true, StartDate: "2024-01-01"}, sf)

	// A changed secret rotates: version 2, and again nothing on restart.
	environ["SALESFORCE_CLIENT_SECRET"] = "sf-client-secret-new-42aa"
	md, outcome, err = ImportSalesforceEnv(ctx, b.store, environ)
	require.NoError(t, err)
	require.Equal(t, OutcomeRotated, outcome)
	require.Equal(t, 2, md.Version)
	md, outcome, err = ImportSalesforceEnv(ctx, b.store, environ)
	require.NoError(t, err)
	require.Equal(t, OutcomeUnchanged, outcome)
	require.Equal(t, 2, md.Version)
	got, err = b.store.Get(ctx, DefaultSalesforceCredentialID)
	require.NoError(t, err)
	require.Equal(t, "sf-client-secret-new-42aa", got.Fields["client_secret"])

	// Another id.
	environ["SALESFORCE_CREDENTIAL_ID"] = "salesforce-sandbox"
	md, outcome, err = ImportSalesforceEnv(ctx, b.store, environ)
	require.NoError(t, err)
	require.Equal(t, OutcomeCreated, outcome)
	require.Equal(t, "salesforce-sandbox", md.ID)
}

func TestSalesforceEnvValidate(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name    string
		environ map[string]string
		want    []string
	}{
		{"secret without id and token", map[string]string{"SALESFORCE_CLIENT_SECRET": testSecret}, []string{"SALESFORCE_CLIENT_ID", "SALESFORCE_REFRESH_TOKEN"}},
		{"no refresh token", map[string]string{"SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": testSecret}, []string{"SALESFORCE_REFRESH_TOKEN"}},
		{"bad start date", map[string]string{"SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_REFRESH_TOKEN": testToken, "SALESFORCE_START_DATE": "last year"}, []string{"SALESFORCE_START_DATE"}},
		{"bad id", map[string]string{"SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_REFRESH_TOKEN": testToken, "SALESFORCE_CREDENTIAL_ID": "a b"}, []string{"SALESFORCE_CREDENTIAL_ID"}},
		{"bad sandbox flag", map[string]string{"SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_REFRESH_TOKEN": testToken, "SALESFORCE_IS_SANDBOX": "perhaps"}, []string{"SALESFORCE_IS_SANDBOX"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ImportSalesforceEnv(ctx, b.store, tc.environ)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), testSecret)
			require.NotContains(t, err.Error(), testToken)
		})
	}
	list, err := b.store.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
}
