// Package recipes holds the test that runs the nats CLI recipes of
// docs/nats-cli.md, verbatim, with natscli v0.5.0 against an in-process
// mesh (NATS with AAM's streams, the registry, simulated workers and the
// real credential broker), and checks what each recipe did.
//
// The recipes live only in the document: each ```sh block is preceded by a
// <!-- recipe: NAME --> comment, and the test runs every named block, so the
// document cannot drift from what works.
package recipes
