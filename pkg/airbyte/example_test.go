package airbyte_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
)

// Example_onboarding walks the onboarding worker's calls: find the connector
// by source type, create the source unless an earlier delivery already did
// (objects get deterministic names; Airbyte creates are not idempotent),
// discover its catalog, create the connection, then sync it.
func Example_onboarding() {
	// An Airbyte emulator stands in for Airbyte here.
	emu := emulator.New(emulator.Config{Seed: 1})
	defer emu.Close()
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()

	client, err := airbyte.New(airbyte.Config{
		BaseURL:      srv.URL + "/api/public/v1", // AIRBYTE_API_URL
		ClientID:     emulator.DefaultClientID,
		ClientSecret: airbyte.NewSecret(emulator.DefaultClientSecret),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	workspaceID := emu.WorkspaceID()

	def, err := client.FindSourceDefinition(ctx, workspaceID, "Salesforce")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("definition:", def.Name)

	const name = "aam-acme-salesforce"
	src, err := client.FindSourceByName(ctx, workspaceID, name)
	if airbyte.IsNotFound(err) {
		src, err = client.CreateSource(ctx, airbyte.SourceCreateRequest{
			Name: name, DefinitionID: def.ID, WorkspaceID: workspaceID,
			Configuration: map[string]any{"client_id": "3MVG9-id", "client_secret": "secret", "refresh_token": "token"},
		})
	}
	if err != nil {
		log.Fatal(err) // never contains the configuration's values
	}
	fmt.Println("source type:", src.SourceType)

	// A fresh, read-only discover (disable_cache true, no connectionId).
	disc, err := client.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: src.SourceID})
	if err != nil {
		log.Fatal(err)
	}
	account, _ := disc.Catalog.Stream("Account", "")
	fmt.Println("Account key:", account.Stream.SourceDefinedPrimaryKey, "cursor:", account.Stream.DefaultCursorField)

	conn, err := client.FindConnectionByName(ctx, workspaceID, name)
	if airbyte.IsNotFound(err) {
		conn, err = client.CreateConnection(ctx, airbyte.ConnectionCreateRequest{
			Name: name, SourceID: src.SourceID, DestinationID: emu.DestinationID(),
			Configurations: &airbyte.StreamConfigurations{Streams: []airbyte.StreamConfiguration{
				// Salesforce defines cursor and primary key: send neither.
				{Name: "Account", SyncMode: airbyte.SyncModeIncrementalDedupedHistory},
				{Name: "Contact", SyncMode: airbyte.SyncModeIncrementalDedupedHistory},
			}},
		})
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connection:", conn.Status, len(conn.Configurations.Streams), "streams")

	// Start a sync, or adopt the one already running.
	job, _, err := client.StartSyncOrGetRunning(ctx, conn.ConnectionID)
	if err != nil {
		log.Fatal(err)
	}
	job, err = client.WaitForJob(ctx, job.JobID, airbyte.WaitOptions{PollInterval: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job:", job.Status)
	if job.Status == airbyte.JobStatusFailed {
		info, err := client.ConfigAPI().GetJob(ctx, job.JobID)
		if err == nil {
			fmt.Println("reason:", info.FailureMessage())
		}
	}

	// Output:
	// definition: Salesforce
	// source type: salesforce
	// Account key: [[Id]] cursor: [SystemModstamp]
	// connection: active 2 streams
	// job: succeeded
}

// ExampleIsSyncRunning shows how a sync worker classifies Airbyte's errors.
func ExampleIsSyncRunning() {
	err := fmt.Errorf("start sync: %w", &airbyte.APIError{
		StatusCode: 409, Title: "try-again-later", Message: "A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5",
		Method: "POST", Path: "/api/public/v1/jobs",
	})
	switch {
	case airbyte.IsSyncRunning(err):
		fmt.Println("adopt the running job")
	case airbyte.IsValidation(err), airbyte.IsAuth(err):
		fmt.Println("give up: retrying cannot help")
	case airbyte.IsRetryable(err):
		d, _ := airbyte.RetryAfter(err)
		fmt.Println("retry later, after at least", d)
	}
	fmt.Println(err)
	fmt.Println(errors.Is(err, airbyte.ErrConflict))

	// Output:
	// adopt the running job
	// start sync: airbyte: POST /api/public/v1/jobs: 409 try-again-later: A sync is already running for: 9924bcd0-99be-453d-ba47-c2c9766f7da5
	// true
}
