package sessions

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writerEnv makes the test binary a session writer: "DIR NAME COUNT" appends
// COUNT runs to session NAME in DIR (COUNT 0: until killed), printing "ok"
// after each save.
const writerEnv = "NEXUSQUANT_SESSIONS_TEST_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		os.Exit(writer(spec))
	}
	os.Exit(m.Run())
}

func writer(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 3 {
		fmt.Fprintln(os.Stderr, "bad writer spec", spec)
		return 2
	}
	n, _ := strconv.Atoi(f[2])
	st := &Store{Dir: f[0]}
	for i := 0; n == 0 || i < n; i++ {
		if _, err := st.AddRun(f[1], meta(), run(float64(os.Getpid()%1000)/1000, float64(i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ok")
	}
	return 0
}

// writerCmd starts the test binary as a writer.
func writerCmd(t *testing.T, dir, name string, count int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", writerEnv, dir, name, count))
	cmd.Stderr = os.Stderr
	return cmd
}

// Many processes appending to one session at once lose nothing.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	const procs, each = 8, 5
	st := &Store{Dir: t.TempDir()}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		cmd := writerCmd(t, st.Dir, "shared", each)
		wg.Go(func() {
			if out, err := cmd.Output(); err != nil {
				errs <- fmt.Errorf("writer: %v (%s)", err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sess, err := st.Load("shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Runs) != procs*each {
		t.Fatalf("%d processes × %d runs left %d runs, want %d", procs, each, len(sess.Runs), procs*each)
	}
	t.Logf("%d processes × %d runs: %d runs saved in %v", procs, each, len(sess.Runs), time.Since(start).Round(time.Millisecond))
}

// Writers killed at random points never damage what was saved before: the
// file always loads, holds every acknowledged run, and the temp files they
// leave are neither listed nor reported as sessions.
func TestKilledWritersLeaveSessionIntact(t *testing.T) {
	const rounds, procs = 6, 3
	st := &Store{Dir: t.TempDir()}
	if _, err := st.AddRun("k", meta(), run(0.1, 1)); err != nil {
		t.Fatal(err)
	}
	acked := 1 // runs whose writer said "ok"
	stale := 0 // temp files found after a round
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for round := range rounds {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var cmds []*exec.Cmd
		for range procs {
			cmd := writerCmd(t, st.Dir, "k", 0)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
			wg.Go(func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if sc.Text() == "ok" {
						mu.Lock()
						acked++
						mu.Unlock()
					}
				}
			})
		}
		for _, cmd := range cmds {
			time.Sleep(time.Duration(20+rng.IntN(100)) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		wg.Wait()
		for _, cmd := range cmds {
			cmd.Wait()
		}
		sess, err := st.Load("k")
		if err != nil {
			t.Fatalf("round %d: after killing writers the session does not load: %v", round, err)
		}
		// A writer may be killed after its rename but before it says "ok".
		if n := len(sess.Runs); n < acked || n > acked+procs {
			t.Fatalf("round %d: %d runs saved, %d acknowledged (at most %d more possible)", round, n, acked, procs)
		}
		for i, r := range sess.Runs {
			if _, err := r.Figures(); err != nil {
				t.Fatalf("round %d: run %d damaged: %v", round, i+1, err)
			}
		}
		tmp, _ := filepath.Glob(filepath.Join(st.Dir, ".*tmp*"))
		stale += len(tmp)
		list, errs := st.List()
		if len(errs) != 0 || len(list) != 1 || list[0].Name != "k" {
			t.Fatalf("round %d: List = %d sessions, errors %v; want only k", round, len(list), errs)
		}
		acked = len(sess.Runs)
	}
	// The next write clears the temp files killed writers left behind.
	if _, err := st.AddRun("k", meta(), run(0.2, 2)); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(st.Dir, ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temp files left after a write: %v", left)
	}
	t.Logf("%d rounds of %d killed writers: %d runs, file intact, %d temp files left by killed writers (not listed, then cleared), in %v",
		rounds, procs, acked+1, stale, time.Since(start).Round(time.Millisecond))
}
