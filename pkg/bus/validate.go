package bus

import (
	"errors"

	"github.com/aam-mesh/aam/schemas"
)

// SchemaValidator validates request data against AAM's JSON Schemas
// (package schemas), reporting the offending field.
func SchemaValidator() Validator {
	return func(eventType string, data []byte) error {
		err := schemas.Validate(eventType, data)
		var ve *schemas.ValidationError
		if errors.As(err, &ve) {
			return &DataError{Field: ve.Field, Reason: ve.Reason}
		}
		return err
	}
}
