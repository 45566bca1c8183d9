package cli

import (
	"bytes"
	"encoding/json"
)

// compactJSON returns b on one line.
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
