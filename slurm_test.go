package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSlurmArray runs the job array of docs/batch.md for real: it starts
// munged, slurmctld and slurmd on localhost as a one-node cluster
// (proctrack/linuxproc, task/none), submits the documented script with
// sbatch --wait --array=0-3 over the batch corpus, merges the four outputs
// and requires the result to equal a single-process run set for set. It
// stops every daemon it started, by PID. A daemon that cannot run is a
// failure that says why, never a skip.
func TestSlurmArray(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestSlurmArray starts munged as the munge user and slurmd as root: run the tests as root")
	}
	tools := map[string]string{}
	for _, n := range []struct{ name, pkg string }{{"munged", "munge"}, {"slurmctld", "slurmctld (slurm-wlm)"}, {"slurmd", "slurmd (slurm-wlm)"}, {"sbatch", "slurm-client (slurm-wlm)"}, {"sinfo", "slurm-client (slurm-wlm)"}} {
		p, err := exec.LookPath(n.name)
		if err != nil {
			for _, d := range []string{"/usr/sbin", "/sbin"} {
				if _, e := os.Stat(filepath.Join(d, n.name)); e == nil {
					p, err = filepath.Join(d, n.name), nil
				}
			}
		}
		if err != nil {
			t.Fatalf("%s not found: apt-get install -y %s", n.name, n.pkg)
		}
		tools[n.name] = p
	}
	mu, err := user.Lookup("munge")
	if err != nil {
		t.Fatalf("no munge user (apt-get install -y munge): %v", err)
	}
	uid, _ := strconv.Atoi(mu.Uid)
	gid, _ := strconv.Atoi(mu.Gid)
	if _, err := os.Stat("/etc/munge/munge.key"); err != nil {
		t.Fatalf("munged needs its key: %v (the munge package creates /etc/munge/munge.key; else run mungekey -c as root)", err)
	}
	c := batchCorpus(t)

	// The script, exactly as docs/batch.md shows it.
	doc, err := os.ReadFile("docs/batch.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)`mirrorchk-array.sh`.*?```sh\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/batch.md: no mirrorchk-array.sh script")
	}
	work, err := os.MkdirTemp("", "mirrorchk-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	script := filepath.Join(work, "mirrorchk-array.sh")
	if err := os.WriteFile(script, m[1], 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Dir(builtMirrorchk(t))

	// munged, as the munge user, with its socket, log, pid and seed in a
	// directory of its own under /run (munged refuses world-writable dirs).
	mdir, err := os.MkdirTemp("/run", "mirrorchk-munge-")
	if err != nil {
		t.Fatalf("munged needs a directory under /run: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(mdir) })
	if err := os.Chown(mdir, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(mdir, 0o755)
	sock := filepath.Join(mdir, "munge.socket")
	stops := []func(){}
	t.Cleanup(func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})
	start := func(name string, cred *syscall.Credential, logf string, args ...string) {
		t.Helper()
		cmd := exec.Command(tools[name], args...)
		out, err := os.Create(filepath.Join(work, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, work
		if cred != nil {
			cmd.Dir = "/" // the daemon's user cannot enter the work dir
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s cannot start: %v", name, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait(); out.Close() }()
		pid := cmd.Process.Pid
		stops = append(stops, func() {
			syscall.Kill(pid, syscall.SIGTERM) // this daemon, by its PID
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				syscall.Kill(pid, syscall.SIGKILL)
				<-done
			}
		})
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-done:
			b, _ := os.ReadFile(filepath.Join(work, name+".out"))
			l, _ := os.ReadFile(logf)
			t.Fatalf("%s exited at once (%v):\n%s\n%s", name, err, tail(b), tail(l))
		default:
		}
	}
	start("munged", &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, filepath.Join(mdir, "munged.log"),
		"-F", "--socket="+sock, "--log-file="+filepath.Join(mdir, "munged.log"), "--pid-file="+filepath.Join(mdir, "munged.pid"), "--seed-file="+filepath.Join(mdir, "munged.seed"))

	// A one-node cluster on localhost.
	ports := freePorts(t, 2)
	conf := filepath.Join(work, "slurm.conf")
	os.MkdirAll(filepath.Join(work, "state"), 0o755)
	os.MkdirAll(filepath.Join(work, "spool"), 0o755)
	cfg := fmt.Sprintf(`ClusterName=mirrorchk
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=%d
SlurmdPort=%d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=%s
CredType=cred/munge
StateSaveLocation=%[4]s/state
SlurmdSpoolDir=%[4]s/spool
SlurmctldPidFile=%[4]s/slurmctld.pid
SlurmdPidFile=%[4]s/slurmd.pid
SlurmctldLogFile=%[4]s/slurmctld.log
SlurmdLogFile=%[4]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
NodeName=mcnode NodeAddr=127.0.0.1 CPUs=%d RealMemory=1024 State=UNKNOWN
PartitionName=batch Nodes=mcnode Default=YES MaxTime=INFINITE State=UP
`, ports[0], ports[1], sock, work, runtimeCPUs())
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start("slurmctld", nil, filepath.Join(work, "slurmctld.log"), "-D", "-f", conf)
	start("slurmd", nil, filepath.Join(work, "slurmd.log"), "-D", "-f", conf, "-N", "mcnode")
	env := append(os.Environ(), "SLURM_CONF="+conf, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.Command(tools["sinfo"], "-h", "-N", "-o", "%t")
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		if strings.TrimSpace(string(out)) == "idle" {
			break
		}
		if time.Now().After(deadline) {
			l1, _ := os.ReadFile(filepath.Join(work, "slurmctld.log"))
			l2, _ := os.ReadFile(filepath.Join(work, "slurmd.log"))
			t.Fatalf("the node did not become idle in 60 s (sinfo: %q)\nslurmctld.log:\n%s\nslurmd.log:\n%s", out, tail(l1), tail(l2))
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The array, then the merge.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools["sbatch"], "--wait", "--array=0-3", "-D", work, script, "--manifest", c.manifest, c.dir)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		logs, _ := filepath.Glob(filepath.Join(work, "mirrorchk-*.log"))
		var b strings.Builder
		for _, l := range logs {
			x, _ := os.ReadFile(l)
			fmt.Fprintf(&b, "%s:\n%s\n", l, tail(x))
		}
		l1, _ := os.ReadFile(filepath.Join(work, "slurmd.log"))
		t.Fatalf("sbatch --wait --array=0-3: %v\n%s\n%s\nslurmd.log:\n%s", err, out, b.String(), tail(l1))
	}
	var shards []string
	for i := range 4 {
		shards = append(shards, filepath.Join(work, "out", fmt.Sprintf("shard-%d.jsonl", i)))
	}
	// The merge step as docs/batch.md shows it.
	merged := filepath.Join(work, "all.jsonl")
	code, _, stderr := mirrorchk(t, append([]string{"merge", "--quiet", "--jsonl", merged, "--html", filepath.Join(work, "all.html"), "--dfxml", filepath.Join(work, "all.xml")}, shards...)...)
	if code != 12 {
		t.Fatalf("merge: exit %d %s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^mirrorchk merge --jsonl all.jsonl --html all.html --dfxml all.xml out/shard-\*.jsonl$`).Match(doc) {
		t.Error("docs/batch.md: the merge command differs from the one this test runs")
	}
	if b, err := exec.Command("xmllint", "--noout", filepath.Join(work, "all.xml")).CombinedOutput(); err != nil {
		t.Errorf("xmllint all.xml: %v %s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(work, "all.html")); err != nil || !strings.Contains(string(b), "Exit code") {
		t.Errorf("all.html: %v", err)
	}
	single := filepath.Join(work, "single.jsonl")
	mirrorchk(t, "scan", "--quiet", "--jobs", "1", "--manifest", c.manifest, "--jsonl", single, c.dir)
	ms, ss := jsonlSets(t, merged), jsonlSets(t, single)
	if len(ms) != len(ss) || len(ss) < 10 {
		t.Fatalf("merged %d sets, single run %d", len(ms), len(ss))
	}
	for k, v := range ss {
		if ms[k] != v {
			t.Errorf("set %s: the Slurm array's result differs from the single-process run", k)
		}
	}
	c.checkUnchanged(t)
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func runtimeCPUs() int { return max(runtime.NumCPU(), 1) }
