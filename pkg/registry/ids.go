package registry

import (
	"fmt"

	"github.com/google/uuid"
)

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func errBadID(id string) error { return fmt.Errorf("%q is not a registry id (uuid)", id) }

// NewID returns a new random registry id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }
