package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aam-mesh/aam/pkg/observability"
)

// The broker's NATS micro service: its name, its group and the subjects of
// its endpoints. Requests and replies are JSON (see the request and reply
// types below); errors use micro's Nats-Service-Error-Code and
// Nats-Service-Error headers with an ErrorDetail body.
const (
	// ServiceName is the micro service name (nats micro info aam-credentials).
	ServiceName = "aam-credentials"
	// SubjectPrefix is the group of the endpoints.
	SubjectPrefix = "aam.credentials"
	// SubjectGet answers IDRequest with GetReply: the only reply that
	// carries secret values.
	SubjectGet = SubjectPrefix + ".get"
	// SubjectPut creates a credential: PutRequest, answered with Metadata.
	SubjectPut = SubjectPrefix + ".put"
	// SubjectRotate replaces a credential's document: PutRequest, answered
	// with Metadata (the new version).
	SubjectRotate = SubjectPrefix + ".rotate"
	// SubjectDelete deletes a credential: IDRequest, answered with DeleteReply.
	SubjectDelete = SubjectPrefix + ".delete"
	// SubjectList lists credentials without values: ListRequest, answered
	// with ListReply.
	SubjectList = SubjectPrefix + ".list"
)

// Error codes of the broker's replies (Nats-Service-Error-Code).
const (
	CodeBadRequest  = "400"
	CodeNotFound    = "404"
	CodeExists      = "409"
	CodeInternal    = "500"
	CodeUnavailable = "503"
)

// IDRequest is the request of get and delete.
type IDRequest struct {
	CredentialID string `json:"credential_id"`
}

// PutRequest is the request of put and rotate. Kind may be omitted in a
// rotation. It carries secret values: String, Format and zap show no value.
type PutRequest struct {
	CredentialID string         `json:"credential_id"`
	Kind         string         `json:"kind,omitempty"`
	Fields       map[string]any `json:"fields"`
}

func (r PutRequest) credential() Credential {
	return Credential{ID: r.CredentialID, Kind: r.Kind, Fields: r.Fields}
}

func (r PutRequest) String() string             { return r.credential().String() }
func (r PutRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
func (r PutRequest) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	return r.credential().MarshalLogObject(enc)
}

// ListRequest is the request of list; an empty body lists everything.
type ListRequest struct {
	// Kind, when set, lists the credentials of that kind only.
	Kind string `json:"kind,omitempty"`
}

// GetReply is the reply of get: the credential with its secret values. It
// prints (String, Format, zap) without them.
type GetReply struct {
	CredentialID string         `json:"credential_id"`
	Kind         string         `json:"kind"`
	Version      int            `json:"version"`
	Fields       map[string]any `json:"fields"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

// Credential returns the credential of the reply.
func (r GetReply) Credential() Credential {
	return Credential{ID: r.CredentialID, Kind: r.Kind, Fields: r.Fields, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (r GetReply) String() string             { return r.Credential().String() }
func (r GetReply) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
func (r GetReply) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	return r.Credential().MarshalLogObject(enc)
}

// DeleteReply is the reply of delete.
type DeleteReply struct {
	CredentialID string `json:"credential_id"`
	Deleted      bool   `json:"deleted"`
}

// ListReply is the reply of list.
type ListReply struct {
	Credentials []Metadata `json:"credentials"`
}

// ErrorDetail is the body of an error reply.
type ErrorDetail struct {
	// Error is invalid, not_found, exists, wrong_key, tampered,
	// unavailable or internal.
	Error string `json:"error"`
	// CredentialID is the credential the request was about, if known.
	CredentialID string `json:"credential_id,omitempty"`
	// Field and Reason detail an invalid request (never with a value).
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
	// ErrorID identifies an internal error in the broker's log.
	ErrorID string `json:"error_id,omitempty"`
}

// ServiceOption configures NewService.
type ServiceOption func(*serviceOptions)

type serviceOptions struct {
	timeout    time.Duration
	registerer prometheus.Registerer
}

// WithRequestTimeout bounds the registry work of one request (default 10 s).
func WithRequestTimeout(d time.Duration) ServiceOption {
	return func(o *serviceOptions) { o.timeout = d }
}

// WithMetrics registers aam_credentials_requests_total{endpoint,code} and
// aam_credentials_request_duration_seconds{endpoint} on reg.
func WithMetrics(reg prometheus.Registerer) ServiceOption {
	return func(o *serviceOptions) { o.registerer = reg }
}

// NewService starts the credential broker's micro service on nc: service
// ServiceName, group SubjectPrefix, endpoints get, put, rotate, delete and
// list in micro's default queue group (so that brokers scale out), and
// micro's $SRV discovery (nats micro ls/info/stats). version is the build
// version; one that is not semantic (a commit hash, "dev") is reported as
// 0.0.0-<version>, the original being in the service metadata "build".
//
// Handlers run one request at a time per endpoint (micro's model, which
// keeps its statistics exact). They log credential ids, kinds, versions
// and key ids, never values. Stop the returned service (Stop drains its
// subscriptions) before closing nc.
func NewService(nc *nats.Conn, store *Store, logger *zap.Logger, version string, opts ...ServiceOption) (micro.Service, error) {
	if nc == nil || store == nil {
		return nil, errors.New("credentials: NewService needs a connection and a store")
	}
	o := serviceOptions{timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	h := &handler{store: store, log: logger, timeout: o.timeout}
	if o.registerer != nil {
		m, err := newServiceMetrics(o.registerer)
		if err != nil {
			return nil, err
		}
		h.metrics = m
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     serviceVersion(version),
		Description: "AAM credential broker: credentials sealed with AES-256-GCM in the registry, served by id",
		Metadata:    map[string]string{"build": version, "key_id": store.KeyID()},
		ErrorHandler: func(_ micro.Service, e *micro.NATSError) {
			logger.Warn("credential service subscription error", zap.String("subject", e.Subject), zap.String("description", e.Description))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: add service: %w", err)
	}
	group := svc.AddGroup(SubjectPrefix)
	endpoints := []struct {
		name, request, reply, secret, description string
		fn                                        endpointFunc
	}{
		{"get", `{"credential_id"}`, `{"credential_id","kind","version","fields"}`, "true", "the credential with its secret fields", h.get},
		{"put", `{"credential_id","kind","fields"}`, `metadata`, "false", "create a credential (409 if it exists)", h.put},
		{"rotate", `{"credential_id","kind"?,"fields"}`, `metadata`, "false", "replace a credential's fields, version+1 (404 if missing)", h.rotate},
		{"delete", `{"credential_id"}`, `{"credential_id","deleted"}`, "false", "delete a credential (404 if missing)", h.delete},
		{"list", `{"kind"?}`, `{"credentials":[metadata]}`, "false", "list credentials: ids, kinds, versions, key ids and field names, no values", h.list},
	}
	for _, e := range endpoints {
		err := group.AddEndpoint(e.name, h.endpoint(e.name, e.fn), micro.WithEndpointMetadata(map[string]string{
			"description": e.description, "request": e.request, "reply": e.reply, "returns_secrets": e.secret,
		}))
		if err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("credentials: add endpoint %s: %w", e.name, err)
		}
	}
	// Make the subscriptions known to the server before returning, so that
	// a request sent right after NewService finds a responder.
	if err := nc.Flush(); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("credentials: flush service subscriptions: %w", err)
	}
	logger.Info("credential service started", zap.String("service", ServiceName), zap.String("key_id", store.KeyID()))
	return svc, nil
}

var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// serviceVersion makes version acceptable to micro (semantic versioning).
func serviceVersion(version string) string {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	if semver.MatchString(v) {
		return v
	}
	v = "0.0.0-" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, v)
	if semver.MatchString(v) {
		return v
	}
	return "0.0.0-dev"
}

// outcome is what one request did, for the log line and the metrics.
type outcome struct {
	id, kind, keyID string
	version, count  int
	message         string
	level           zapcore.Level
}

type endpointFunc func(ctx context.Context, data []byte, out *outcome) (any, error)

type handler struct {
	store   *Store
	log     *zap.Logger
	timeout time.Duration
	metrics *serviceMetrics
}

// endpoint adapts fn to micro: it decodes nothing itself, bounds the work
// by the request timeout, answers with fn's reply or error, and logs and
// counts the outcome once.
func (h *handler) endpoint(name string, fn endpointFunc) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		defer cancel()
		out := outcome{level: zapcore.DebugLevel}
		reply, err := fn(ctx, req.Data(), &out)
		code := "200"
		fields := []zap.Field{zap.String("endpoint", name)}
		if err != nil {
			var detail ErrorDetail
			var description string
			code, description, detail = classify(err)
			detail.CredentialID = out.id
			if code == CodeInternal && detail.Error == "internal" {
				detail.ErrorID = nuid.Next()
			}
			body, _ := json.Marshal(detail)
			if rerr := req.Error(code, description, body); rerr != nil {
				fields = append(fields, zap.NamedError("respond_error", rerr))
			}
			fields = append(fields, zap.String("code", code), zap.Error(err))
			switch {
			case code == CodeInternal:
				out.message, out.level = "credential request failed", zapcore.ErrorLevel
				if detail.ErrorID != "" {
					fields = append(fields, zap.String("error_id", detail.ErrorID))
				}
			case code == CodeUnavailable:
				out.message, out.level = "credential request failed", zapcore.WarnLevel
			default:
				out.message, out.level = "credential request rejected", zapcore.InfoLevel
			}
		} else if rerr := req.RespondJSON(reply); rerr != nil {
			out.message, out.level = "credential reply not sent", zapcore.WarnLevel
			fields = append(fields, zap.NamedError("respond_error", rerr))
		}
		elapsed := time.Since(start)
		if h.metrics != nil {
			h.metrics.requests.WithLabelValues(name, code).Inc()
			h.metrics.duration.WithLabelValues(name).Observe(elapsed.Seconds())
		}
		if ce := h.log.Check(out.level, out.message); ce != nil {
			if out.id != "" {
				fields = append(fields, zap.String("credential_id", out.id))
			}
			if out.kind != "" {
				fields = append(fields, zap.String("kind", out.kind))
			}
			if out.version != 0 {
				fields = append(fields, zap.Int("version", out.version))
			}
			if out.keyID != "" {
				fields = append(fields, zap.String("key_id", out.keyID))
			}
			if name == "list" && err == nil {
				fields = append(fields, zap.Int("num_credentials", out.count))
			}
			ce.Write(append(fields, zap.Duration("duration", elapsed))...)
		}
	})
}

// classify maps an error to a micro error code, a description (never with
// a secret: the package's errors carry none) and the reply body.
func classify(err error) (code, description string, detail ErrorDetail) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return CodeBadRequest, ve.Error(), ErrorDetail{Error: "invalid", Field: ve.Field, Reason: ve.Reason}
	case errors.Is(err, ErrNotFound):
		return CodeNotFound, err.Error(), ErrorDetail{Error: "not_found"}
	case errors.Is(err, ErrExists):
		return CodeExists, err.Error() + " (rotate it instead)", ErrorDetail{Error: "exists"}
	case errors.Is(err, ErrWrongKey):
		return CodeInternal, err.Error(), ErrorDetail{Error: "wrong_key"}
	case errors.Is(err, ErrTampered):
		return CodeInternal, err.Error(), ErrorDetail{Error: "tampered"}
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable, "credentials: the credential store is unavailable; retry", ErrorDetail{Error: "unavailable"}
	default:
		return CodeInternal, "credentials: internal error (the broker logged it under error_id)", ErrorDetail{Error: "internal"}
	}
}

// decodeRequest decodes a JSON object strictly. Its errors name the field
// and never quote the input, which may hold secrets.
func decodeRequest(data []byte, v any, allowEmpty bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return invalid("", "the request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid(te.Field, "must be %s", jsonKind(te.Type))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return invalid(strings.Trim(name, `"`), "is not a field of this request")
		}
		return invalid("", "the request body is not a JSON object")
	}
	if dec.More() {
		return invalid("", "the request body has data after its JSON object")
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	}
	return "of type " + t.String()
}

func (h *handler) get(ctx context.Context, data []byte, out *outcome) (any, error) {
	var req IDRequest
	if err := decodeRequest(data, &req, false); err != nil {
		return nil, err
	}
	out.id = req.CredentialID
	row, c, err := h.store.load(ctx, req.CredentialID)
	if err != nil {
		return nil, err
	}
	out.kind, out.version, out.keyID, out.message = c.Kind, c.Version, row.KeyID, "credential served"
	return GetReply{CredentialID: c.ID, Kind: c.Kind, Version: c.Version, Fields: c.Fields, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}, nil
}

func (h *handler) put(ctx context.Context, data []byte, out *outcome) (any, error) {
	return h.save(ctx, data, out, h.store.Create, "credential created")
}

func (h *handler) rotate(ctx context.Context, data []byte, out *outcome) (any, error) {
	return h.save(ctx, data, out, h.store.Rotate, "credential rotated")
}

// save serves put and rotate: it decodes the PutRequest, stores its
// credential with store and answers the credential's metadata; done is the
// outcome's message.
func (h *handler) save(ctx context.Context, data []byte, out *outcome,
	store func(context.Context, Credential) (Metadata, error), done string) (any, error) {
	var req PutRequest
	if err := decodeRequest(data, &req, false); err != nil {
		return nil, err
	}
	out.id = req.CredentialID
	md, err := store(ctx, req.credential())
	if err != nil {
		return nil, err
	}
	out.kind, out.version, out.keyID = md.Kind, md.Version, md.KeyID
	out.message, out.level = done, zapcore.InfoLevel
	return md, nil
}

func (h *handler) delete(ctx context.Context, data []byte, out *outcome) (any, error) {
	var req IDRequest
	if err := decodeRequest(data, &req, false); err != nil {
		return nil, err
	}
	out.id = req.CredentialID
	if err := h.store.Delete(ctx, req.CredentialID); err != nil {
		return nil, err
	}
	out.message, out.level = "credential deleted", zapcore.InfoLevel
	return DeleteReply{CredentialID: req.CredentialID, Deleted: true}, nil
}

func (h *handler) list(ctx context.Context, data []byte, out *outcome) (any, error) {
	var req ListRequest
	if err := decodeRequest(data, &req, true); err != nil {
		return nil, err
	}
	all, err := h.store.List(ctx)
	if err != nil {
		return nil, err
	}
	kind := strings.ToLower(strings.TrimSpace(req.Kind))
	list := make([]Metadata, 0, len(all))
	for _, md := range all {
		if kind == "" || md.Kind == kind {
			list = append(list, md)
		}
	}
	out.count, out.message = len(list), "credentials listed"
	return ListReply{Credentials: list}, nil
}

type serviceMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newServiceMetrics(reg prometheus.Registerer) (*serviceMetrics, error) {
	m := &serviceMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_credentials_requests_total",
			Help: "Requests answered by the credential broker, by endpoint and code (200 or the error code).",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aam_credentials_request_duration_seconds",
			Help:    "Time the credential broker took to answer, by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"endpoint"}),
	}
	var err error
	if m.requests, err = observability.Register(reg, m.requests); err != nil {
		return nil, fmt.Errorf("credentials: metrics: %w", err)
	}
	if m.duration, err = observability.Register(reg, m.duration); err != nil {
		return nil, fmt.Errorf("credentials: metrics: %w", err)
	}
	return m, nil
}
