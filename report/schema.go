package report

import _ "embed"

//go:embed schema.json
var schemaJSON []byte

// SchemaJSON returns the JSON Schema (draft 2020-12) of documents with
// schema Schema. Each call returns a new copy.
func SchemaJSON() []byte {
	return append([]byte(nil), schemaJSON...)
}
