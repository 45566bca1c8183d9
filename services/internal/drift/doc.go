// Package drift classifies schema drift and decides what to do about it.
//
// Classification refines Airbyte's CatalogDiff: every change is given one
// Kind from Table, the single list of change kinds, each with whether it
// breaks the connection, the reason in words and the risk to the data.
// Airbyte calls a change breaking only when a cursor or primary key field
// goes away (or a deduplicated stream's key changes); Table also breaks on
// a selected stream or field removed, a type narrowed or changed, a scalar
// turned into an object or array and the reverse, a cursor moved under an
// incremental stream and a sync mode no longer supported. Each Change keeps
// Airbyte's transform and breaking flag beside AAM's.
//
// docs/drift.md shows the table beside Airbyte's classification.
package drift
