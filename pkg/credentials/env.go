package credentials

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aam-mesh/aam/pkg/config"
)

// DefaultSalesforceCredentialID is the id the Salesforce credential from
// the environment is stored under unless SALESFORCE_CREDENTIAL_ID says
// otherwise (the id the onboarding examples use).
const DefaultSalesforceCredentialID = "salesforce-prod"

// SalesforceEnv is the environment-based Salesforce credential of the
// original auth broker, imported as one credential for compatibility. A
// service embeds it in its Config; nothing is imported when
// SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET are both unset.
type SalesforceEnv struct {
	// CredentialID is the id to store it under (SALESFORCE_CREDENTIAL_ID,
	// default salesforce-prod).
	CredentialID string `env:"SALESFORCE_CREDENTIAL_ID" envDefault:"salesforce-prod"`
	// ClientID is the connected app's consumer key (SALESFORCE_CLIENT_ID).
	ClientID string `env:"SALESFORCE_CLIENT_ID"`
	// ClientSecret is the consumer secret (SALESFORCE_CLIENT_SECRET).
	ClientSecret Secret `env:"SALESFORCE_CLIENT_SECRET"`
	// RefreshToken is the OAuth refresh token (SALESFORCE_REFRESH_TOKEN;
	// required with the two above, as Airbyte's source-salesforce needs it).
	RefreshToken Secret `env:"SALESFORCE_REFRESH_TOKEN"`
	// IsSandbox selects test.salesforce.com: true or false, 1 or 0
	// (SALESFORCE_IS_SANDBOX, default false). It is parsed here rather than
	// by the env library so that an invalid value is reported by variable
	// name.
	IsSandbox string `env:"SALESFORCE_IS_SANDBOX" envDefault:"false"`
	// StartDate is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (SALESFORCE_START_DATE,
	// default: the last two years).
	StartDate string `env:"SALESFORCE_START_DATE"`
}

// Set reports whether the environment names a Salesforce credential.
func (e SalesforceEnv) Set() bool {
	return e.ClientID != "" || e.ClientSecret != "" || e.RefreshToken != ""
}

// Credential returns the credential the environment describes (call
// Validate first: an invalid SALESFORCE_IS_SANDBOX reads as false).
func (e SalesforceEnv) Credential() Credential {
	sandbox, _ := e.sandbox()
	return Salesforce{
		ClientID: e.ClientID, ClientSecret: e.ClientSecret, RefreshToken: e.RefreshToken,
		IsSandbox: sandbox, StartDate: e.StartDate,
	}.Credential(e.CredentialID)
}

func (e SalesforceEnv) sandbox() (bool, error) {
	if strings.TrimSpace(e.IsSandbox) == "" {
		return false, nil
	}
	return strconv.ParseBool(strings.TrimSpace(e.IsSandbox))
}

// Validate checks the variables by name, never printing their values.
func (e SalesforceEnv) Validate() error {
	if !e.Set() {
		return nil
	}
	var errs []error
	if e.ClientID == "" {
		errs = append(errs, errors.New("SALESFORCE_CLIENT_ID: required when SALESFORCE_CLIENT_SECRET or SALESFORCE_REFRESH_TOKEN is set"))
	}
	if e.ClientSecret == "" {
		errs = append(errs, errors.New("SALESFORCE_CLIENT_SECRET: required when SALESFORCE_CLIENT_ID or SALESFORCE_REFRESH_TOKEN is set"))
	}
	if e.RefreshToken == "" {
		errs = append(errs, errors.New("SALESFORCE_REFRESH_TOKEN: required with SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (Airbyte's source-salesforce needs a refresh token)"))
	}
	if err := validateID(e.CredentialID); err != nil {
		var ve *ValidationError
		errors.As(err, &ve)
		errs = append(errs, fmt.Errorf("SALESFORCE_CREDENTIAL_ID: %s", ve.Reason))
	}
	if _, err := e.sandbox(); err != nil {
		errs = append(errs, errors.New("SALESFORCE_IS_SANDBOX: must be true or false"))
	}
	if e.StartDate != "" && !salesforceStartDate.MatchString(e.StartDate) {
		errs = append(errs, errors.New("SALESFORCE_START_DATE: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"))
	}
	return errors.Join(errs...)
}

// ImportSalesforce stores the environment's Salesforce credential: it
// creates it, rotates it when the secret changed, and leaves it (and its
// version) alone when it did not, so that restarts do not bump versions.
// With no Salesforce variables set it does nothing and returns
// OutcomeSkipped.
func ImportSalesforce(ctx context.Context, store *Store, e SalesforceEnv) (Metadata, Outcome, error) {
	if !e.Set() {
		return Metadata{}, OutcomeSkipped, nil
	}
	if err := e.Validate(); err != nil {
		return Metadata{}, "", err
	}
	md, outcome, err := store.Apply(ctx, e.Credential())
	if err != nil {
		return Metadata{}, "", fmt.Errorf("import SALESFORCE_* as credential %q: %w", e.CredentialID, err)
	}
	return md, outcome, nil
}

// ImportSalesforceEnv is ImportSalesforce with the variables read from
// environ (the process environment when nil).
func ImportSalesforceEnv(ctx context.Context, store *Store, environ map[string]string) (Metadata, Outcome, error) {
	e, err := config.ParseFrom[SalesforceEnv](environ)
	if err != nil {
		return Metadata{}, "", err
	}
	return ImportSalesforce(ctx, store, e)
}
