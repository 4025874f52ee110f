package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cgroup is a temporary cgroup of one controller ("memory" or "pids"), on
// cgroup v1 (a hierarchy of its own under /sys/fs/cgroup/CONTROLLER) or v2
// (the unified hierarchy, where the controller is enabled), made below this
// process's own cgroup and removed when the test ends.
type Cgroup struct {
	Dir string
	V2  bool
}

// TempCgroup makes the cgroup; the test fails if the controller is in
// neither hierarchy (harness.Lacks).
func TempCgroup(t testing.TB, controller string) Cgroup {
	t.Helper()
	RequireRoot(t)
	own, _ := os.ReadFile("/proc/self/cgroup")
	var v1Path, v2Path string
	for _, line := range strings.Split(string(own), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			v2Path = f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				v1Path = f[2]
			}
		}
	}
	var cg Cgroup
	switch {
	case v1Path != "" && exists(filepath.Join("/sys/fs/cgroup", controller, "cgroup.procs")):
		cg.Dir = filepath.Join("/sys/fs/cgroup", controller, v1Path, RandomName("kig-"))
	case v2Path != "":
		root := "/sys/fs/cgroup"
		if exists("/sys/fs/cgroup/unified/cgroup.controllers") {
			root = "/sys/fs/cgroup/unified"
		}
		ctrls, _ := os.ReadFile(filepath.Join(root, v2Path, "cgroup.controllers"))
		if !strings.Contains(" "+string(ctrls)+" ", " "+controller+" ") {
			Lacks(t, "the %s cgroup controller (not in %s)", controller, filepath.Join(root, v2Path))
		}
		cg.Dir, cg.V2 = filepath.Join(root, v2Path, RandomName("kig-")), true
	default:
		Lacks(t, "a %s cgroup hierarchy", controller)
	}
	if err := os.Mkdir(cg.Dir, 0o755); err != nil {
		t.Fatalf("make cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Its processes have exited; the kernel may take a moment to see it.
		for i := 0; i < 100; i++ {
			if err := os.Remove(cg.Dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cgroup %s is still there", cg.Dir)
	})
	return cg
}

// Set writes a control file: v1 and v2 names are given for each knob, as
// "memory.limit_in_bytes|memory.max".
func (cg Cgroup) Set(t testing.TB, names, value string) {
	t.Helper()
	v1, v2, _ := strings.Cut(names, "|")
	name := v1
	if cg.V2 && v2 != "" {
		name = v2
	}
	if err := os.WriteFile(filepath.Join(cg.Dir, name), []byte(value), 0o644); err != nil {
		t.Fatalf("cgroup %s = %s: %v", name, value, err)
	}
}

// Wrap is a command prefix that runs the rest of the command in the cgroup.
func (cg Cgroup) Wrap() []string {
	return []string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, filepath.Join(cg.Dir, "cgroup.procs")}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
