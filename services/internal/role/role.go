// Package role describes each of AAM's deployable roles once: its name,
// the durable consumers it reads, the configuration its binary parses from
// the environment, and how it is built. Both ways of running a role use
// that one description:
//
//   - a role's own binary, services/<name>/main.go, is role.Main(role.X):
//     the role parses its configuration from the environment, opens its
//     own connections and runs alone;
//   - `aam dev` runs every role of All in one process: it parses every
//     role's settings once (ParseSettings), changes what its flags set as
//     values, and builds each role with Dev on the connections the process
//     shares (Shared).
//
// A role added here is run by both; a test checks that every
// services/*/main.go is one of All.
package role

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/broker"
	"github.com/aam-mesh/aam/services/internal/emulatorrole"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
)

// Role is the description of one deployable role. The roles are this
// package's variables, listed by All; the zero Role is not usable.
type Role struct {
	// Name names the role: its folder services/<Name>, its binary
	// aam-<Name>, its logger, its NATS connection and its PostgreSQL
	// application_name.
	Name string
	// Consumers are the durable JetStream consumers the role reads (none
	// for a role that only answers NATS requests or HTTP).
	Consumers []string

	parse    func(environ map[string]string) (any, error)
	run      func(ctx context.Context, cfg any) error
	settings func(environ map[string]string, s *Settings) error
	dev      func(ctx context.Context, s *Shared) (app.Runner, error)
	// partOf and settingOf return the role's settings from its binary's
	// configuration and from Settings (for the tests).
	partOf    func(cfg any) any
	settingOf func(s *Settings) any
}

// Binary is the name of the role's own binary.
func (r Role) Binary() string { return "aam-" + r.Name }

// ParseConfig parses the configuration of the role's binary from environ
// (the process environment when nil) and validates it. Its dynamic type is
// the role's configuration type, e.g. app.AirbyteRole[onboarding.Config].
func (r Role) ParseConfig(environ map[string]string) (any, error) { return r.parse(environ) }

// Run runs the role as a process of its own, configured from environ (the
// process environment when nil), until ctx ends or it fails.
func (r Role) Run(ctx context.Context, environ map[string]string) error {
	cfg, err := r.parse(environ)
	if err != nil {
		return err
	}
	return r.run(ctx, cfg)
}

// Dev builds the role's part of a single-process stack on s, with its
// settings from s.Settings. A nil Runner without an error means that the
// role does not run in this process (the Airbyte emulator, when s has a
// real Airbyte).
func (r Role) Dev(ctx context.Context, s *Shared) (app.Runner, error) { return r.dev(ctx, s) }

// Main is the whole main function of r's binary: it runs r, configured
// from the environment, until SIGINT or SIGTERM, and exits non-zero with
// the error when r fails.
func Main(r Role) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := r.Run(ctx, nil)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", r.Binary(), err)
		os.Exit(1)
	}
}

// Settings are the settings of every role of a single-process stack: each
// role's own part of its binary's configuration. The blocks the process
// shares (logging, PostgreSQL, NATS, Airbyte) are the process's.
type Settings struct {
	Emulator   emulatorrole.Config
	Broker     broker.Settings
	Onboarding onboarding.Config
	Sync       syncer.Config
	Repair     repair.Config
	Observer   observer.Config
	Gateway    gateway.Config
}

// ParseSettings parses and validates every role's settings from environ
// (the process environment when nil). An error names the role and the
// variable.
func ParseSettings(environ map[string]string) (Settings, error) {
	var s Settings
	var errs []error
	for _, r := range All() {
		if err := r.settings(environ, &s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}
	return s, errors.Join(errs...)
}

// Shared are the parts the roles of one single-process stack share.
type Shared struct {
	// Deps are the process's registry, NATS connection, JetStream,
	// metrics and health checks.
	Deps *app.Deps
	// Airbyte is the process's Airbyte client: the emulator's, or a real
	// Airbyte's.
	Airbyte *airbyte.Client
	// Emulator is the Airbyte emulator the process serves on
	// EmulatorListener; nil against a real Airbyte.
	Emulator         *emulator.Emulator
	EmulatorListener net.Listener
	// Settings are every role's settings.
	Settings Settings

	stops []func()
}

// OnStop registers fn for Stop.
func (s *Shared) OnStop(fn func()) { s.stops = append(s.stops, fn) }

// Stop runs the functions registered with OnStop, the last first. The
// process calls it once every role's runner has returned, before it closes
// Deps.
func (s *Shared) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// spec is a role written with its types: T is the configuration of its
// binary, C the settings it takes in a single-process stack (a part of T).
type spec[T, C any] struct {
	name      string
	consumers []string
	// setting is where C sits in Settings, part where it sits in T.
	setting func(*Settings) *C
	part    func(T) C
	// main runs the role as a process of its own.
	main func(ctx context.Context, cfg T) error
	// dev builds the role's part of a single-process stack.
	dev func(ctx context.Context, s *Shared, c C) (app.Runner, error)
}

func (sp spec[T, C]) role() Role {
	return Role{
		Name:      sp.name,
		Consumers: sp.consumers,
		parse: func(environ map[string]string) (any, error) {
			return config.ParseFrom[T](environ)
		},
		run: func(ctx context.Context, cfg any) error { return sp.main(ctx, cfg.(T)) },
		settings: func(environ map[string]string, s *Settings) error {
			c, err := config.ParseFrom[C](environ)
			if err != nil {
				return err
			}
			*sp.setting(s) = c
			return nil
		},
		dev: func(ctx context.Context, s *Shared) (app.Runner, error) {
			return sp.dev(ctx, s, *sp.setting(&s.Settings))
		},
		partOf:    func(cfg any) any { return sp.part(cfg.(T)) },
		settingOf: func(s *Settings) any { return *sp.setting(s) },
	}
}

// airbyteRole describes a role that calls Airbyte: its binary's
// configuration is app.AirbyteRole[C], it runs through app.RunAirbyteRole
// (streams provisioned when provision is set), and build makes its work in
// both ways of running it.
func airbyteRole[C any](name string, consumers []string, provision bool, setting func(*Settings) *C, build app.RoleFunc[C]) Role {
	return spec[app.AirbyteRole[C], C]{
		name:      name,
		consumers: consumers,
		setting:   setting,
		part:      func(cfg app.AirbyteRole[C]) C { return cfg.Role },
		main: func(ctx context.Context, cfg app.AirbyteRole[C]) error {
			return app.RunAirbyteRole(ctx, name, cfg, app.OpenOptions{Provision: provision}, build)
		},
		dev: func(_ context.Context, s *Shared, c C) (app.Runner, error) {
			return build(s.Deps, s.Airbyte, c)
		},
	}.role()
}
