package bus

import (
	"errors"

	"github.com/aam-mesh/aam/schemas"
)

// Validator validates a request's data against the schema of its type. An
// error of type *DataError names the offending field; other errors reject
// the request with their text.
type Validator func(eventType string, data []byte) error

// DataError reports invalid request data.
type DataError struct {
	// Field is the dotted path of the offending data field.
	Field  string
	Reason string
}

func (e *DataError) Error() string {
	if e.Field == "" {
		return "data: " + e.Reason
	}
	return "data." + e.Field + ": " + e.Reason
}

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
