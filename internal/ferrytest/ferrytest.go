// Package ferrytest holds test helpers shared by every package's tests: an
// engine over temporary homes with in-memory accounts, loopback listeners,
// a logger that writes to the test log, and the cross-protocol scenario
// suite each front end runs through its own client. Only tests import it.
package ferrytest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/events"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage/local"
)

// Users is an in-memory core.UserSource.
type Users struct {
	mu      sync.RWMutex
	users   map[string]*ferry.User
	groups  map[string]*ferry.Group
	folders map[string]*ferry.Folder
}

// GetFolder returns a copy of the named virtual folder.
func (u *Users) GetFolder(_ context.Context, name string) (*ferry.Folder, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if x, ok := u.folders[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, fmt.Errorf("folder %q: %w", name, ferry.ErrNotFound)
}

// PutFolder adds or replaces a virtual folder.
func (u *Users) PutFolder(f *ferry.Folder) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.folders[f.Name] = f
}

// GetUser returns a copy of the named user.
func (u *Users) GetUser(_ context.Context, name string) (*ferry.User, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if x, ok := u.users[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, fmt.Errorf("user %q: %w", name, ferry.ErrNotFound)
}

// GetGroup returns a copy of the named group.
func (u *Users) GetGroup(_ context.Context, name string) (*ferry.Group, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if x, ok := u.groups[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, fmt.Errorf("group %q: %w", name, ferry.ErrNotFound)
}

// Put adds or replaces a user.
func (u *Users) Put(x *ferry.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users[x.Name] = x
}

// PutGroup adds or replaces a group.
func (u *Users) PutGroup(g *ferry.Group) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.groups[g.Name] = g
}

// Env is an engine on temporary directories with its accounts and events.
type Env struct {
	Engine *core.Engine
	Users  *Users
	Root   string // parent of every home
	Events *Recorder
	// Gate is installed as the engine's pre-hook gate; Set a function to
	// refuse operations in a test.
	Gate *FuncGate
	// Usage is the engine's quota usage store.
	Usage *Usage
	// Tokens holds users' API tokens (core.Options.Tokens).
	Tokens *Tokens
}

// FuncGate is a core.Gate whose decision a test can change.
type FuncGate struct {
	mu sync.RWMutex
	fn func(context.Context, ferry.Event) error
}

// Set installs fn (nil allows everything).
func (g *FuncGate) Set(fn func(context.Context, ferry.Event) error) {
	g.mu.Lock()
	g.fn = fn
	g.mu.Unlock()
}

// Allow implements core.Gate.
func (g *FuncGate) Allow(ctx context.Context, ev ferry.Event) error {
	g.mu.RLock()
	fn := g.fn
	g.mu.RUnlock()
	if fn == nil {
		return nil
	}
	return fn(ctx, ev)
}

// Option changes a user built by User.
type Option func(*ferry.User)

// Perm adds a permission rule "PATH=PERMS".
func Perm(rule string) Option {
	return func(u *ferry.User) {
		pp, err := ferry.ParsePathPerm(rule)
		if err != nil {
			panic(err)
		}
		u.Perms = append(u.Perms, pp)
	}
}

// PublicKey authorizes an authorized_keys line.
func PublicKey(line string) Option {
	return func(u *ferry.User) { u.PublicKeys = append(u.PublicKeys, line) }
}

// Mode sets the upload mode.
func Mode(m ferry.UploadMode) Option { return func(u *ferry.User) { u.UploadMode = m } }

// Disabled marks the account disabled.
func Disabled() Option { return func(u *ferry.User) { u.Status = ferry.StatusDisabled } }

// UserSpec describes a user for NewEngine.
type UserSpec struct {
	Name, Password string
	Opts           []Option
}

// User describes an account with a password ("" for key-only).
func User(name, password string, opts ...Option) UserSpec {
	return UserSpec{Name: name, Password: password, Opts: opts}
}

// hashCache avoids paying argon2id for the same test password repeatedly.
var hashCache sync.Map

func hashFor(t testing.TB, pw string) string {
	if h, ok := hashCache.Load(pw); ok {
		return h.(string)
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	hashCache.Store(pw, h)
	return h
}

// NewEngine returns an engine whose users have homes under a temporary
// directory (Root/NAME, created).
func NewEngine(t testing.TB, users ...UserSpec) *Env {
	t.Helper()
	return NewEngineWith(t, nil, users...)
}

// WithPolicy changes the user's policy.
func WithPolicy(fn func(*ferry.Policy)) Option { return func(u *ferry.User) { fn(&u.Policy) } }

// Usage is an in-memory core.UsageStore.
type Usage struct {
	mu      sync.Mutex
	m       map[string][2]int64
	scanned map[string]bool
}

// GetUsage implements core.UsageStore.
func (u *Usage) GetUsage(_ context.Context, user string) (int64, int64, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	v := u.m[user]
	return v[0], v[1], u.scanned[user], nil
}

// AddUsage implements core.UsageStore.
func (u *Usage) AddUsage(_ context.Context, user string, b, f int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	v := u.m[user]
	u.m[user] = [2]int64{v[0] + b, v[1] + f}
	return nil
}

// SetUsage implements core.UsageStore.
func (u *Usage) SetUsage(_ context.Context, user string, b, f int64, _ time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.m[user] = [2]int64{b, f}
	u.scanned[user] = true
	return nil
}

// NewEngineWith is NewEngine with a chance to change the core options
// (defender, limits…); the engine always has an in-memory usage store.
func NewEngineWith(t testing.TB, change func(*core.Options), users ...UserSpec) *Env {
	t.Helper()
	root := t.TempDir()
	env := &Env{Users: &Users{users: map[string]*ferry.User{}, groups: map[string]*ferry.Group{}, folders: map[string]*ferry.Folder{}}, Root: root}
	for _, spec := range users {
		env.AddUser(t, spec)
	}
	bus := events.New(events.Options{})
	env.Events = &Recorder{}
	env.Gate = &FuncGate{}
	bus.Subscribe(context.Background(), "recorder", 10000, env.Events.record)
	env.Usage = &Usage{m: map[string][2]int64{}, scanned: map[string]bool{}}
	env.Tokens = NewTokens()
	opts := core.Options{
		Users: env.Users, Storage: local.NewOpener(local.OpenerOptions{}), Events: bus, Gate: env.Gate,
		Logger: Logger(t), CreateHome: true, Usage: env.Usage, Tokens: env.Tokens,
	}
	if change != nil {
		change(&opts)
	}
	eng, err := core.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Shutdown()
		bus.Close()
	})
	env.Engine = eng
	return env
}

// AddUser adds an account with its home under Root.
func (e *Env) AddUser(t testing.TB, spec UserSpec) *ferry.User {
	t.Helper()
	u := &ferry.User{Name: spec.Name, Home: filepath.Join(e.Root, spec.Name), Status: ferry.StatusActive}
	if spec.Password != "" {
		u.PasswordHash = hashFor(t, spec.Password)
	}
	for _, o := range spec.Opts {
		o(u)
	}
	if err := os.MkdirAll(u.Home, 0o750); err != nil {
		t.Fatal(err)
	}
	e.Users.Put(u)
	return u
}

// Home returns the on-disk path of name's home joined with rel.
func (e *Env) Home(name string, rel ...string) string {
	return filepath.Join(append([]string{e.Root, name}, rel...)...)
}

// WriteFile creates a file in a user's home (parents included).
func (e *Env) WriteFile(t testing.TB, user, rel string, data []byte) {
	t.Helper()
	p := e.Home(user, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// Recorder keeps every published event for assertions.
type Recorder struct {
	mu  sync.Mutex
	evs []ferry.Event
}

func (r *Recorder) record(_ context.Context, ev ferry.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []ferry.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ferry.Event(nil), r.evs...)
}

// Count counts the recorded events that match, waiting (the bus delivers
// asynchronously) until want of them arrived or about five seconds passed.
func (r *Recorder) Count(want int, match func(ferry.Event) bool) int {
	n := 0
	for range 1000 {
		n = 0
		for _, ev := range r.Events() {
			if match(ev) {
				n++
			}
		}
		if n >= want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// Listen returns a TCP listener on 127.0.0.1:0, closed at cleanup.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Logger returns a logger writing to the test log (debug level).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
