// Package airbytespec validates HTTP traffic against Airbyte's own OpenAPI documents.
//
// The documents are not part of the repository: they live in a folder next to it
// (`<repo>/../shared/airbyte`, or wherever AIRBYTE_SPEC_DIR points). [Dir] finds that
// folder, [Load] parses public-api.yaml (OpenAPI 3.1, the public API under
// `/api/public/v1`) and config-api.yaml (OpenAPI 3.0, the Configuration API under
// `/api/v1`) once per process, and [Specs.ValidateRequest] / [Specs.ValidateResponse]
// check one exchange with pb33f/libopenapi-validator, choosing the document by path
// prefix.
//
// Airbyte's servers do not always agree with Airbyte's documents. Those known
// disagreements are tolerated by narrow, named exceptions (see [Quirk]); every other
// violation is reported. Test helpers that report violations through testing.TB live
// in the airbytespectest subpackage.
package airbytespec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi/datamodel"
)

// Path prefixes the two Airbyte APIs are served under.
const (
	// PublicPrefix is where the public API lives on an OSS server.
	PublicPrefix = "/api/public/v1"
	// ConfigPrefix is where the Configuration API lives.
	ConfigPrefix = "/api/v1"
)

// File names inside the spec folder.
const (
	PublicFile = "public-api.yaml"
	ConfigFile = "config-api.yaml"
)

// EnvDir names the environment variable that overrides the spec folder.
const EnvDir = "AIRBYTE_SPEC_DIR"

// ErrNotCovered is returned for a request whose path belongs to neither API.
var ErrNotCovered = errors.New("airbytespec: path is not under /api/public/v1 or /api/v1")

// Dir locates the folder holding Airbyte's OpenAPI documents: the value of
// AIRBYTE_SPEC_DIR when set, else the first `shared/airbyte` folder containing
// public-api.yaml found beside the working directory or one of its parents (the
// repository's sibling `../shared/airbyte`). It reports false when there is none.
func Dir() (string, bool) {
	if d := os.Getenv(EnvDir); d != "" {
		if fileExists(filepath.Join(d, PublicFile)) {
			return d, true
		}
		return "", false
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; {
		cand := filepath.Join(d, "shared", "airbyte")
		if fileExists(filepath.Join(cand, PublicFile)) {
			return cand, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Specs holds validators for the public and the Configuration API. It is safe for
// concurrent use.
type Specs struct {
	dir    string
	public validator.Validator
	config validator.Validator
	// libopenapi-validator keeps per-request state on shared caches; serialise to
	// stay on the safe side (validation is test-only and cheap next to I/O).
	mu sync.Mutex
	// warnings lists the problems found while loading (see QuirkDanglingRefs).
	warnings []string
}

var (
	cacheMu sync.Mutex
	loaded  = map[string]*loadResult{}
)

type loadResult struct {
	once  sync.Once
	specs *Specs
	err   error
}

// Load parses the documents in dir. The result is cached per folder for the life of
// the process, so every test in a binary shares one parse of the 700 KB Configuration
// API document.
func Load(dir string) (*Specs, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("airbytespec: %w", err)
	}
	cacheMu.Lock()
	r, ok := loaded[abs]
	if !ok {
		r = &loadResult{}
		loaded[abs] = r
	}
	cacheMu.Unlock()
	r.once.Do(func() { r.specs, r.err = load(abs) })
	return r.specs, r.err
}

func load(dir string) (*Specs, error) {
	pub, w1, err := newValidator(filepath.Join(dir, PublicFile))
	if err != nil {
		return nil, err
	}
	cfg, w2, err := newValidator(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	return &Specs{dir: dir, public: pub, config: cfg, warnings: append(w1, w2...)}, nil
}

func newValidator(path string) (validator.Validator, []string, error) {
	name := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("airbytespec: read %s: %w", name, err)
	}
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler)
	doc, err := libopenapi.NewDocumentWithConfiguration(b, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("airbytespec: parse %s: %w", name, err)
	}
	model, err := doc.BuildV3Model()
	if model == nil {
		return nil, nil, fmt.Errorf("airbytespec: build model of %s: %w", name, err)
	}
	// QuirkDanglingRefs: the model is usable, the dangling references sit in
	// operations the project does not call. They are kept as load warnings.
	var warnings []string
	if err != nil {
		for _, e := range unwrapAll(err) {
			if !strings.Contains(e.Error(), "does not exist in the specification") &&
				!strings.Contains(e.Error(), "cannot be found") {
				return nil, nil, fmt.Errorf("airbytespec: build model of %s: %w", name, err)
			}
			warnings = append(warnings, name+": "+e.Error())
		}
	}
	// Security is not validated: the public document declares no schemes and the
	// emulator and client tests check authentication behaviour themselves.
	lazy := newLazyCache()
	v := validator.NewValidatorFromV3Model(&model.Model, config.WithoutSecurityValidation(),
		config.WithLogger(slog.New(slog.DiscardHandler)), config.WithSchemaCache(lazy))
	lazy.warming.Store(false)
	return v, warnings, nil
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// LoadWarnings lists the defects of the documents themselves that loading tolerated
// (see [QuirkDanglingRefs]).
func (s *Specs) LoadWarnings() []string { return s.warnings }

// Dir returns the folder the documents were loaded from.
func (s *Specs) Dir() string { return s.dir }

// Covers reports whether path belongs to one of the two APIs.
func Covers(path string) bool {
	_, _, ok := route(path)
	return ok
}

// api identifies which document a path belongs to.
type api int

const (
	apiPublic api = iota + 1
	apiConfig
)

// route maps a server path to the document and the path as the document's server
// URL sees it: public-api.yaml declares `https://api.airbyte.com/v1` with paths like
// `/sources`, so `/api/public/v1/sources` becomes `/v1/sources`; config-api.yaml
// declares `http://localhost:8000/api` with paths like `/v1/sources/create`, so
// `/api/v1/sources/create` is already in the document's terms.
func route(p string) (api, string, bool) {
	switch {
	case p == PublicPrefix || strings.HasPrefix(p, PublicPrefix+"/"):
		return apiPublic, "/v1" + strings.TrimPrefix(p, PublicPrefix), true
	case strings.HasPrefix(p, ConfigPrefix+"/"):
		return apiConfig, p, true
	}
	return 0, "", false
}

// ValidationError lists the violations found in one request or response.
type ValidationError struct {
	Method string
	Path   string
	// Response is true when the violations were found in a response.
	Response bool
	Status   int
	Problems []string
}

func (e *ValidationError) Error() string {
	what := "request"
	if e.Response {
		what = fmt.Sprintf("response %d", e.Status)
	}
	return fmt.Sprintf("%s %s: %s violates the Airbyte OpenAPI document:\n  %s",
		e.Method, e.Path, what, strings.Join(e.Problems, "\n  "))
}

// ValidateRequest checks r against the document its path belongs to. The body is
// read and restored, so r can still be sent or served afterwards. It returns
// ErrNotCovered for paths outside both APIs and a *ValidationError listing every
// violation not excused by a [Quirk].
func (s *Specs) ValidateRequest(r *http.Request) error {
	which, specPath, ok := route(r.URL.Path)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotCovered, r.URL.Path)
	}
	body, err := snapshotBody(&r.Body)
	if err != nil {
		return err
	}
	vr := rewrite(r, specPath, body)
	s.mu.Lock()
	_, verrs := s.validator(which).ValidateHttpRequestSync(vr)
	s.mu.Unlock()
	ex := exchange{api: which, path: r.URL.Path, method: r.Method, reqBody: body}
	return s.report(r, verrs, ex, false, 0)
}

// ValidateResponse checks resp, the answer to req, against the document req's path
// belongs to. Both bodies are read and restored. Error statuses that the document
// does not declare for the operation (Airbyte documents few of them) are checked
// against the error body shapes instead (see [QuirkUndeclaredErrorStatus]).
func (s *Specs) ValidateResponse(req *http.Request, resp *http.Response) error {
	which, specPath, ok := route(req.URL.Path)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotCovered, req.URL.Path)
	}
	reqBody, err := snapshotBody(&req.Body)
	if err != nil {
		return err
	}
	respBody, err := snapshotBody(&resp.Body)
	if err != nil {
		return err
	}
	vr := rewrite(req, specPath, reqBody)
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(respBody))
	vresp.Request = vr
	s.mu.Lock()
	_, verrs := s.validator(which).ValidateHttpResponse(vr, &vresp)
	s.mu.Unlock()
	ex := exchange{api: which, path: req.URL.Path, method: req.Method, reqBody: reqBody,
		status: resp.StatusCode, respBody: respBody, respHeader: resp.Header}
	return s.report(req, verrs, ex, true, resp.StatusCode)
}

func (s *Specs) validator(a api) validator.Validator {
	if a == apiPublic {
		return s.public
	}
	return s.config
}

func (s *Specs) report(r *http.Request, verrs []*valerrors.ValidationError, ex exchange, response bool, status int) error {
	var problems []string
	for _, ve := range verrs {
		problems = append(problems, ex.unexcused(ve)...)
	}
	if response && status >= 400 {
		problems = append(problems, ex.checkErrorBody()...)
	}
	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Method: r.Method, Path: r.URL.Path, Response: response, Status: status, Problems: problems}
}

// snapshotBody reads *body fully and replaces it with a fresh reader over the same
// bytes.
func snapshotBody(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(*body)
	_ = (*body).Close()
	if err != nil {
		return nil, fmt.Errorf("airbytespec: read body: %w", err)
	}
	*body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// rewrite returns a copy of r addressed the way the document's server URL expects.
func rewrite(r *http.Request, specPath string, body []byte) *http.Request {
	u := *r.URL
	u.Path = specPath
	u.RawPath = ""
	if u.Host == "" {
		u.Host = cmpOr(r.Host, "localhost")
	}
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	vr := r.Clone(r.Context())
	vr.URL = &u
	vr.RequestURI = ""
	vr.Body = io.NopCloser(bytes.NewReader(body))
	vr.ContentLength = int64(len(body))
	if r.Header.Get("Content-Type") == "" && len(body) > 0 {
		vr.Header.Set("Content-Type", "application/json")
	}
	return vr
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exchange carries what the quirk predicates need to know about one call.
type exchange struct {
	api        api
	path       string
	method     string
	reqBody    []byte
	status     int
	respBody   []byte
	respHeader http.Header
}

func (ex exchange) jsonField(b []byte, name string) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	v, ok := m[name]
	return v, ok && string(v) != "null"
}

// unexcused returns the parts of ve that no quirk excuses.
func (ex exchange) unexcused(ve *valerrors.ValidationError) []string {
	if ex.status >= 400 && isUndeclaredStatus(ve) {
		return nil // checked by checkErrorBody instead
	}
	if len(ve.SchemaValidationErrors) == 0 {
		if q := ex.excuse(ve.Message, ve.Reason); q != "" {
			return nil
		}
		return []string{ve.Message + ": " + ve.Reason}
	}
	var out []string
	for _, f := range ve.SchemaValidationErrors {
		if q := ex.excuse(f.Reason, f.FieldPath+" "+f.KeywordLocation); q != "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s (at %s)", ve.Message, f.Reason, cmpOr(f.FieldPath, "$")))
	}
	return out
}

func isUndeclaredStatus(ve *valerrors.ValidationError) bool {
	return strings.Contains(ve.Message, "response code") && strings.Contains(ve.Message, "does not exist")
}

// checkErrorBody checks an error body the document does not describe against the
// shapes Airbyte's servers produce: an RFC 9457-style problem for the public API
// (api-problems.yaml BaseProblemFields: `type` and `title` required, `status` an
// integer), and a KnownExceptionInfo-style `{message}` or bare `{errorId}` for the
// Configuration API. Token-endpoint and load-shedding bodies (`{message}`,
// `{errorId}`) are accepted on the public API too.
func (ex exchange) checkErrorBody() []string {
	var m map[string]any
	if err := json.Unmarshal(ex.respBody, &m); err != nil {
		return []string{fmt.Sprintf("error body is not a JSON object: %v", err)}
	}
	if ct := ex.respHeader.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return []string{fmt.Sprintf("error body has Content-Type %q, Airbyte sends application/json", ct)}
	}
	_, hasMsg := m["message"].(string)
	_, hasErrID := m["errorId"].(string)
	if ex.api == apiConfig {
		if !hasMsg && !hasErrID {
			return []string{"config API error body has neither message nor errorId"}
		}
		return nil
	}
	if hasMsg || hasErrID {
		if _, isProblem := m["type"]; !isProblem {
			return nil
		}
	}
	var out []string
	if _, ok := m["type"].(string); !ok {
		out = append(out, "problem body lacks string `type`")
	}
	if _, ok := m["title"].(string); !ok {
		out = append(out, "problem body lacks string `title`")
	}
	if st, ok := m["status"].(float64); !ok || int(st) != ex.status {
		out = append(out, fmt.Sprintf("problem body `status` %v does not match HTTP status %d", m["status"], ex.status))
	}
	return out
}
