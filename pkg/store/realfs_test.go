//go:build linux

package store

// Storage failures made real: the store is opened and written in a child
// process (this test binary run again) that the kernel refuses in earnest
// — as user 65534 against 0444/0555 modes (the tests run as root, which
// bypasses modes), on a read-only bind mount and on a full tmpfs in a
// private mount namespace (nothing outside the child sees either), and
// under RLIMIT_FSIZE. Each case checks the user-facing message and that
// nothing already accepted is lost.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childJob is set in the environment of a child run of this test binary.
const childJob = "OKTAGUARD_STORE_TEST_CHILD"

// nobody is the unprivileged user the permission children run as.
const nobody = 65534

func TestMain(m *testing.M) {
	if job := os.Getenv(childJob); job != "" {
		os.Exit(runChild(job))
	}
	os.Exit(m.Run())
}

// childReport is what a child prints (JSON on stdout).
type childReport struct {
	UID       int    `json:"uid"`
	OpenErr   string `json:"openErr"`
	ROErr     string `json:"roErr"`
	ROEvents  int64  `json:"roEvents"`
	CommitErr string `json:"commitErr"` // the commit the kernel refused
	RetryErr  string `json:"retryErr"`  // the same batch once space is back
	Inserted  int    `json:"inserted"`  // events the retry inserted
	Events    int64  `json:"events"`    // events in the store at the end
	Distinct  int64  `json:"distinct"`  // distinct uuids at the end
	Setup     string `json:"setup"`     // a failure of the child's own setup
	// Writes: the lease and triage writes refused under the limit, by
	// name: their error and WriteFailureClass (writes_test.go).
	Writes map[string][2]string `json:"writes,omitempty"`
}

type childSpec struct {
	job  string
	env  []string
	user bool // run as uid/gid 65534 (when the test runs as root)
	ns   bool // run in a private mount namespace
}

// runInChild runs this test binary as a child doing job and returns its
// report. A child that cannot be started or set up fails the test: these
// cases must run wherever the suite runs (Linux, as root or a user with
// user namespaces).
func runInChild(t *testing.T, c childSpec) childReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, childBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), childJob+"="+c.job)
	cmd.Env = append(cmd.Env, c.env...)
	attr := &syscall.SysProcAttr{}
	root := os.Getuid() == 0
	if c.user && root {
		attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	if c.ns {
		if root {
			attr.Unshareflags = syscall.CLONE_NEWNS
		} else {
			attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		}
	}
	cmd.SysProcAttr = attr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\nstderr: %s", c.job, err, stderr.String())
	}
	var r childReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child %s printed %q: %v\nstderr: %s", c.job, out, err, stderr.String())
	}
	if r.Setup != "" {
		t.Fatalf("child %s setup: %s", c.job, r.Setup)
	}
	return r
}

// childBinary is a copy of this test binary that user 65534 may run (go
// test builds it in a 0700 directory).
func childBinary(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sharedDir(t), "store.test")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runChild(job string) int {
	var r childReport
	r.UID = os.Getuid()
	ctx := context.Background()
	path := os.Getenv("OKTAGUARD_STORE_TEST_PATH")
	err := func() error {
		switch job {
		case "open":
			if dir := os.Getenv("OKTAGUARD_STORE_TEST_RO_BIND"); dir != "" {
				if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind %s: %w", dir, err)
				}
				if err := syscall.Mount(dir, dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
					return fmt.Errorf("remount %s read-only: %w", dir, err)
				}
			}
			openAndReport(ctx, path, &r)
		case "fsize":
			limit, _ := strconv.ParseUint(os.Getenv("OKTAGUARD_STORE_TEST_FSIZE"), 10, 64)
			return fillAndRetry(ctx, path, &r, func() error {
				return setFsize(limit)
			}, func() error {
				return setFsize(^uint64(0))
			})
		case "fsize-writes":
			return refusedWrites(ctx, path, &r)
		case "tmpfs":
			dir := filepath.Dir(path)
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=32m"); err != nil {
				return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
			}
			ballast := filepath.Join(dir, "ballast")
			return fillAndRetry(ctx, path, &r, func() error {
				return fillVolume(ballast)
			}, func() error {
				return os.Remove(ballast)
			})
		default:
			return fmt.Errorf("unknown job %q", job)
		}
		return nil
	}()
	if err != nil {
		r.Setup = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func openAndReport(ctx context.Context, path string, r *childReport) {
	if st, err := Open(ctx, path); err != nil {
		r.OpenErr = err.Error()
	} else {
		st.Close()
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		r.ROErr = err.Error()
		return
	}
	defer ro.Close()
	stats, err := ro.Stats(ctx)
	if err != nil {
		r.ROErr = err.Error()
		return
	}
	r.ROEvents = stats.Events
}

// fillAndRetry opens the store at path, commits 200 events, makes the
// volume full (fill), commits 2 000 more, frees the space (free) and
// commits the same 2 000 again, reporting both errors and the final count.
func fillAndRetry(ctx context.Context, path string, r *childReport, fill, free func() error) error {
	st, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	from := time.Now().Add(-2 * time.Hour)
	if _, err := st.Commit(ctx, Batch{Events: mkEvents(0, 200, from, time.Second)}); err != nil {
		return fmt.Errorf("first commit: %w", err)
	}
	if err := fill(); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	b := Batch{Events: mkEvents(200, 2000, from.Add(200*time.Second), time.Second)}
	if _, err := st.Commit(ctx, b); err != nil {
		r.CommitErr = err.Error()
	}
	if err := free(); err != nil {
		return fmt.Errorf("free: %w", err)
	}
	res, err := st.Commit(ctx, b)
	if err != nil {
		r.RetryErr = err.Error()
	}
	for _, in := range res.Inserted {
		if in {
			r.Inserted++
		}
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	r.Events = stats.Events
	return st.r.QueryRowContext(ctx, "SELECT COUNT(DISTINCT uuid) FROM events").Scan(&r.Distinct)
}

func setFsize(limit uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		return err
	}
	rl.Cur = limit
	return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl)
}

// fillVolume writes ballast until the volume refuses with ENOSPC.
func fillVolume(ballast string) error {
	f, err := os.Create(ballast)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// sharedDir is a directory user 65534 may enter (t.TempDir is 0700).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oktaguard-realfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seedStore makes a store of n events at path and returns its bytes.
func seedStore(t *testing.T, path string, n int) []byte {
	t.Helper()
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, Batch{Events: mkEvents(0, n, time.Now().Add(-time.Hour), time.Second)})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantDocumented requires docs/operations.md's troubleshooting table to
// quote msg, with repl's replacements (a path by <path>, ...) applied and
// cut before cut.
func wantDocumented(t *testing.T, msg, cut string, repl ...string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := strings.NewReplacer(repl...).Replace(msg)
	if i := strings.Index(m, cut); cut != "" && i >= 0 {
		m = m[:i]
	}
	if !strings.Contains(string(doc), m) {
		t.Errorf("docs/operations.md does not quote the message %q", m)
	}
}

// wantStoreIntact opens the store at path as this (root) process and
// checks it holds n events and the bytes it held before.
func wantStoreIntact(t *testing.T, path string, before []byte, n int64) {
	t.Helper()
	if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
		t.Fatalf("the refused open changed %s (%v)", path, err)
	}
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if stats, err := st.Stats(context.Background()); err != nil || stats.Events != n {
		t.Fatalf("after the refused open: %d events (%v), want %d", stats.Events, err, n)
	}
}

// A store the user may not write is refused with the cause, as the user
// the service runs as would see it (uid 65534 against 0444/0555 modes),
// export still reads it, and nothing is changed.
func TestStoreRefusedByModesAsAnotherUser(t *testing.T) {
	org, p, before := seededOrgStore(t)
	env := []string{"OKTAGUARD_STORE_TEST_PATH=" + p}

	// a 0444 store file in a writable directory
	os.Chmod(p, 0o444)
	r := runInChild(t, childSpec{job: "open", user: true, env: env})
	want := fmt.Sprintf("store %s: permission denied: user %d cannot read and write it (check the owner and mode of the file and its directory)", p, r.UID)
	if r.OpenErr != want {
		t.Errorf("0444 store:\n got %q\nwant %q", r.OpenErr, want)
	}
	wantDocumented(t, want, "", p, "<path>", fmt.Sprintf("user %d ", r.UID), "user <uid> ")
	if r.ROErr != "" || r.ROEvents != 300 {
		t.Errorf("export of a 0444 store: %d events, error %q", r.ROEvents, r.ROErr)
	}

	// a store the user owns in a 0555 directory: SQLite could not create
	// its -wal and -shm files
	if os.Getuid() == 0 {
		os.Chown(p, nobody, nobody)
	}
	os.Chmod(p, 0o644)
	os.Chmod(org, 0o555)
	r = runInChild(t, childSpec{job: "open", user: true, env: env})
	want = fmt.Sprintf("store %s: permission denied: user %d cannot create files in this directory, and SQLite keeps its -wal and -shm files beside the store (check the owner and mode of the directory)", org, r.UID)
	if r.OpenErr != want {
		t.Errorf("store in a 0555 directory:\n got %q\nwant %q", r.OpenErr, want)
	}
	wantDocumented(t, want, "", org, "<dir>", fmt.Sprintf("user %d ", r.UID), "user <uid> ")
	if r.ROErr != "" || r.ROEvents != 300 {
		t.Errorf("export from a 0555 directory: %d events, error %q", r.ROEvents, r.ROErr)
	}

	// a new store in a 0555 directory
	r = runInChild(t, childSpec{job: "open", user: true, env: []string{"OKTAGUARD_STORE_TEST_PATH=" + filepath.Join(org, "new.db")}})
	if r.OpenErr != want {
		t.Errorf("new store in a 0555 directory:\n got %q\nwant %q", r.OpenErr, want)
	}
	if _, err := os.Stat(filepath.Join(org, "new.db")); err == nil {
		t.Error("a store was created in the 0555 directory")
	}

	os.Chmod(org, 0o755)
	wantStoreIntact(t, p, before, 300)
}

// A store on a read-only mount (a read-only bind mount in the child's own
// mount namespace) is refused with the cause and the way out, and export
// reads it.
func TestStoreOnReadOnlyMount(t *testing.T) {
	org, p, before := seededOrgStore(t)
	r := runInChild(t, childSpec{job: "open", ns: true, env: []string{"OKTAGUARD_STORE_TEST_PATH=" + p, "OKTAGUARD_STORE_TEST_RO_BIND=" + org}})
	want := fmt.Sprintf("store %s: read-only file system: the store must be writable (use `oktaguard export` to read a store on read-only media)", p)
	if r.OpenErr != want {
		t.Errorf("read-only mount:\n got %q\nwant %q", r.OpenErr, want)
	}
	wantDocumented(t, want, "", p, "<path>")
	if r.ROErr != "" || r.ROEvents != 300 {
		t.Errorf("export from a read-only mount: %d events, error %q", r.ROEvents, r.ROErr)
	}
	wantStoreIntact(t, p, before, 300)
}

// wantFullThenRetried checks a fillAndRetry report: the refused commit
// names the cause (want), the same batch commits once space is back, and
// the store holds every event once.
func wantFullThenRetried(t *testing.T, r childReport, want string) {
	t.Helper()
	if r.CommitErr != want {
		t.Errorf("commit on a full volume:\n got %q\nwant %q", r.CommitErr, want)
	}
	if r.RetryErr != "" || r.Inserted != 2000 || r.Events != 2200 || r.Distinct != 2200 {
		t.Errorf("retry once space is back: error %q, %d inserted, %d events (%d distinct), want 2000, 2200, 2200", r.RetryErr, r.Inserted, r.Events, r.Distinct)
	}
}

// A volume that fills while the store is being written (a 32 MiB tmpfs in
// the child's own mount namespace, filled by a ballast file after the first
// commit): the commit is refused with ENOSPC's cause, nothing committed is
// lost, and once the ballast is removed the same batch commits exactly once.
func TestStoreDiskFullDuringCommit(t *testing.T) {
	dir := sharedDir(t)
	p := filepath.Join(dir, "og.db")
	r := runInChild(t, childSpec{job: "tmpfs", ns: true, env: []string{"OKTAGUARD_STORE_TEST_PATH=" + p}})
	want := fmt.Sprintf("store %s: disk full: the volume has no space left for the store: free space; the transaction was rolled back: nothing of it was written, and everything committed before is intact (store: commit: database or disk is full (13))", p)
	wantFullThenRetried(t, r, want)
	wantDocumented(t, want, " (store: commit", p, "<path>")
}

// A file size limit (RLIMIT_FSIZE: writes fail with EFBIG, which SQLite
// reports as a bare I/O error) is named as such.
func TestStoreFileSizeLimitDuringCommit(t *testing.T) {
	dir := sharedDir(t)
	p := filepath.Join(dir, "og.db")
	r := runInChild(t, childSpec{job: "fsize", env: []string{"OKTAGUARD_STORE_TEST_PATH=" + p, "OKTAGUARD_STORE_TEST_FSIZE=65536"}})
	want := fmt.Sprintf("store %s: disk full: this process may not write files beyond 65536 bytes (ulimit -f / RLIMIT_FSIZE): raise the limit; the transaction was rolled back: nothing of it was written, and everything committed before is intact (store: commit: disk I/O error (778))", p)
	wantFullThenRetried(t, r, want)
	wantDocumented(t, want, "; the transaction", p, "<path>", "65536", "<n>")
}

// seededOrgStore makes a directory "org" in a directory the child can
// reach, with a store of 300 events in it: the directory, the store's
// path and the store's bytes.
func seededOrgStore(t *testing.T) (org, path string, before []byte) {
	t.Helper()
	org = filepath.Join(sharedDir(t), "org")
	if err := os.Mkdir(org, 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(org, "og.db")
	return org, path, seedStore(t, path, 300)
}
