package schemas_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/schemas"
)

func TestValidateUnknownType(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "io.aam.connection.sync.requested.v2", "com.example.other"} {
		err := schemas.Validate(typ, []byte(`{}`))
		if !errors.Is(err, schemas.ErrUnknownType) {
			t.Errorf("Validate(%q) = %v, want ErrUnknownType", typ, err)
		}
		var ve *schemas.ValidationError
		if errors.As(err, &ve) {
			t.Errorf("Validate(%q) returned a ValidationError for an unknown type", typ)
		}
	}
}

func TestValidateNotJSON(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"", "   ", "{", `{"connection_id": "x"} trailing`, "\xff", "garbage"} {
		err := schemas.Validate(events.TypeSyncRequested, []byte(data))
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Validate(%q) = %v, want a ValidationError", data, err)
			continue
		}
		if ve.Field != "" || ve.Reason == "" || ve.EventType != events.TypeSyncRequested {
			t.Errorf("Validate(%q) = %+v", data, ve)
		}
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := schemas.Validate(events.TypeSyncRequested, []byte(`{"connection_id": 7}`))
	want := "invalid io.aam.connection.sync.requested.v1 data: connection_id: must be a string, got number"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	err = schemas.Validate(events.TypeSyncRequested, []byte(`[]`))
	want = "invalid io.aam.connection.sync.requested.v1 data: must be an object, got array"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestValidateConcurrent validates from many goroutines at once, the way
// the worker runtime does; run with -race.
func TestValidateConcurrent(t *testing.T) {
	t.Parallel()
	valid, _ := json.Marshal(events.SyncRequested{ConnectionID: exampleConnectionID})
	invalid := []byte(`{"connection_id": "nope"}`)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := schemas.Validate(events.TypeSyncRequested, valid); err != nil {
					errs <- err
					return
				}
				var ve *schemas.ValidationError
				if err := schemas.Validate(events.TypeSyncRequested, invalid); !errors.As(err, &ve) || ve.Field != "connection_id" {
					errs <- fmt.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkValidate(b *testing.B) {
	sync, _ := json.Marshal(events.SyncRequested{ConnectionID: exampleConnectionID})
	onboard, _ := json.Marshal(events.OnboardRequested{SourceType: "Salesforce", ConnectionName: "Salesforce Production", CredentialID: "salesforce-prod"})
	repair, _ := json.Marshal(examplePayload(b, events.TypeRepairRequested))
	invalid := []byte(`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "new_sync_catalog": {"streams": [{"stream": {"name": "Account"}, "config": {"syncMode": "sometimes", "destinationSyncMode": "append"}}]}}`)
	for _, bc := range []struct {
		name, typ string
		data      []byte
		valid     bool
	}{
		{"sync", events.TypeSyncRequested, sync, true},
		{"onboard", events.TypeOnboardRequested, onboard, true},
		{"repair", events.TypeRepairRequested, repair, true},
		{"repair-invalid", events.TypeRepairRequested, invalid, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if err := schemas.Validate(bc.typ, bc.data); (err == nil) != bc.valid {
					b.Fatal(err)
				}
			}
		})
	}
}
