// Package buildinfo carries the version stamped into binaries at build time:
//
//	go build -ldflags "-X github.com/aam-mesh/aam/pkg/buildinfo.Version=v1.2.3"
package buildinfo

// Version is the release version ("dev" when not stamped).
var Version = "dev"
