package test

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/msteinert/pam/v2"

	"pam_keyinit_go/test/harness"
)

// A scenario is one PAM transaction run in a fresh process (the test binary
// re-executed with scenarioEnv set), so that the C module's process globals
// and the process's session keyring start clean for every run.
type scenario struct {
	Service string   // service name in ConfDir
	ConfDir string   // for pam_start_confdir
	User    string   // target user
	Steps   []string // open, close, establish, delete, open-silent, close-silent
	Core    string   `json:",omitempty"` // a test-build core whose goroutines each step counts
}

// stepResult is what a step returned and what the thread had afterwards,
// with keyring serials replaced by labels (K1, K2, ... in order of first
// sight) so that two runs compare line by line.
type stepResult struct {
	Step    string
	Code    int
	Session string // the session keyring, normalised
	IDs     string // ruid euid suid rgid egid sgid
	// Goroutines in the module's own runtime after the step, when the
	// scenario names a test-build core (-1: not loaded yet).
	Goroutines int `json:",omitempty"`
}

const scenarioEnv = "KIG_TEST_SCENARIO"

// runScenarioIfAsked runs the scenario in $KIG_TEST_SCENARIO and exits, when
// the test binary was started as a scenario process.
func runScenarioIfAsked() {
	spec := os.Getenv(scenarioEnv)
	if spec == "" {
		return
	}
	var sc scenario
	if err := json.Unmarshal([]byte(spec), &sc); err != nil {
		fmt.Fprintln(os.Stderr, "bad scenario:", err)
		os.Exit(2)
	}
	runtime.LockOSThread() // the process ends with the scenario
	out := json.NewEncoder(os.Stdout)
	labels := keyLabels{}
	tx, err := pam.StartConfDir(sc.Service, sc.User, pam.ConversationFunc(noConversation), sc.ConfDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pam_start:", err)
		os.Exit(2)
	}
	for _, step := range sc.Steps {
		var err error
		switch step {
		case "open":
			err = tx.OpenSession(0)
		case "open-silent":
			err = tx.OpenSession(pam.Silent)
		case "close":
			err = tx.CloseSession(0)
		case "close-silent":
			err = tx.CloseSession(pam.Silent)
		case "establish":
			err = tx.SetCred(pam.EstablishCred)
		case "delete":
			err = tx.SetCred(pam.DeleteCred)
		default:
			fmt.Fprintln(os.Stderr, "unknown step", step)
			os.Exit(2)
		}
		out.Encode(stepResult{Step: step, Code: code(err), Session: labels.session(), IDs: idString(), Goroutines: moduleGoroutines(sc.Core)})
	}
	out.Encode(stepResult{Step: "end", Code: code(tx.End()), Session: labels.session(), IDs: idString()})
	os.Exit(0)
}

func moduleGoroutines(core string) int {
	if core == "" {
		return 0
	}
	n, err := harness.ModuleGoroutines(core)
	if err != nil {
		return -1
	}
	return n
}

func idString() string {
	ids := threadIDs()
	return strings.Trim(fmt.Sprint(ids), "[]")
}

type keyLabels map[int]string

func (l keyLabels) label(serial int) string {
	if s, ok := l[serial]; ok {
		return s
	}
	l[serial] = "K" + strconv.Itoa(len(l)+1)
	return l[serial]
}

// session describes the thread's session keyring: label, name, owner,
// permissions and the names of what it links, or that it is revoked.
func (l keyLabels) session() string {
	k := harness.Describe(harness.SessionKeyring)
	switch {
	case k.Revoked:
		return "revoked"
	case k.Err != nil:
		return "error: " + k.Err.Error()
	}
	var links []string
	ks, err := harness.Links(k.Serial)
	if err != nil {
		links = append(links, "error: "+err.Error())
	}
	for _, lk := range ks {
		links = append(links, fmt.Sprintf("%s(%d)", lk.Name, lk.UID))
	}
	return fmt.Sprintf("%s %q uid=%d gid=%d perm=%08x links=%v",
		l.label(k.Serial), k.Name, k.UID, k.GID, k.Perm, links)
}
