package keyring

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeKernel serves descriptions and links from maps.
type fakeKernel struct {
	desc  map[int]string
	links map[int][]int
	errs  map[int]error
}

func (f fakeKernel) Resolve(special int) (int, error) { return 0, unix.ENOKEY }

func (f fakeKernel) Describe(serial int) (string, error) {
	if err := f.errs[serial]; err != nil {
		return "", err
	}
	d, ok := f.desc[serial]
	if !ok {
		return "", unix.ENOKEY
	}
	return d, nil
}

func (f fakeKernel) Read(serial int) ([]int, error) { return f.links[serial], nil }

func names(uid uint32) string {
	return map[uint32]string{0: "root", 1001: "alice"}[uid]
}

func TestTree(t *testing.T) {
	k := fakeKernel{
		desc: map[int]string{
			10: "keyring;1001;1001;3f030000;_ses",
			20: "keyring;1001;65534;1f3f0000;_uid.1001",
			30: "user;1001;1001;3f010000;token",
			40: "keyring;0;0;3f030000;loop",
		},
		links: map[int][]int{10: {20, 50, 40}, 20: {30, 10}, 40: {40}},
		errs:  map[int]error{50: unix.EKEYREVOKED},
	}
	got := Tree(k, 10, MaxDepth, names)
	var b bytes.Buffer
	Render(&b, got, "  ")
	want := `  10 keyring "_ses"  owner alice (uid 1001) gid 1001 perm 3f030000 (possessor=alswrv user=----rv group=------ other=------)
  \_ 20 keyring "_uid.1001"  owner alice (uid 1001) gid 65534 perm 1f3f0000 (possessor=-lswrv user=alswrv group=------ other=------)
     \_ 30 user "token"  owner alice (uid 1001) gid 1001 perm 3f010000 (possessor=alswrv user=-----v group=------ other=------)
     \_ 10 keyring "_ses"  owner alice (uid 1001) gid 1001 perm 3f030000 (possessor=alswrv user=----rv group=------ other=------)
  \_ 50 (revoked)
  \_ 40 keyring "loop"  owner root (uid 0) gid 0 perm 3f030000 (possessor=alswrv user=----rv group=------ other=------)
     \_ 40 keyring "loop"  owner root (uid 0) gid 0 perm 3f030000 (possessor=alswrv user=----rv group=------ other=------)
`
	if b.String() != want {
		t.Errorf("Render =\n%s\nwant\n%s", b.String(), want)
	}
	// A keyring seen before is listed but not opened again (no endless loop).
	if n := len(got.Links[0].Links[1].Links); n != 0 {
		t.Errorf("the _ses keyring reached again was expanded (%d links)", n)
	}
	if got.Links[1].Revoked != true || got.Links[1].Type != "" {
		t.Errorf("revoked key = %+v", got.Links[1])
	}
	if d := Tree(k, 10, 0, nil); len(d.Links) != 0 || d.Owner != "" {
		t.Errorf("depth 0, no names: %+v", d)
	}
}

func TestDescribeErrors(t *testing.T) {
	k := fakeKernel{desc: map[int]string{1: "keyring;x;0;0;n", 2: "keyring;0;0"}}
	for serial, want := range map[int]string{1: "unexpected description", 2: "unexpected description", 3: "required key not available"} {
		if got := Describe(k, serial); !strings.Contains(got.Error, want) || got.Type != "" {
			t.Errorf("Describe(%d) = %+v; want error %q", serial, got, want)
		}
	}
}

func TestPermText(t *testing.T) {
	for perm, want := range map[uint32]string{
		0x3f030000: "possessor=alswrv user=----rv group=------ other=------",
		0x1f3f0000: "possessor=-lswrv user=alswrv group=------ other=------",
		0x00000001: "possessor=------ user=------ group=------ other=-----v",
		0x00002000: "possessor=------ user=------ group=a----- other=------",
	} {
		if got := PermText(perm); got != want {
			t.Errorf("PermText(%08x) = %q; want %q", perm, got, want)
		}
	}
}

func TestKeyJSON(t *testing.T) {
	b, _ := json.Marshal(Key{Serial: 7, Revoked: true})
	if string(b) != `{"serial":7,"revoked":true}` {
		t.Errorf("revoked key JSON = %s (no uid: it is unknown, not 0)", b)
	}
	b, _ = json.Marshal(Key{Serial: 7, Type: "keyring", Name: "_ses", UID: 0, Perm: "3f030000"})
	if !strings.Contains(string(b), `"uid":0`) || !strings.Contains(string(b), `"name":"_ses"`) {
		t.Errorf("described key JSON = %s", b)
	}
}

func TestWho(t *testing.T) {
	if got := (Key{UID: 5, Owner: "bob"}).Who(); got != "bob (uid 5)" {
		t.Errorf("Who = %q", got)
	}
	if got := (Key{UID: 5}).Who(); got != "uid 5" {
		t.Errorf("Who = %q", got)
	}
}

// Names any process may choose are escaped as Go string literals are,
// everywhere a report shows them; plain names stay as they are.
func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"_ses":                        "_ses",
		"_uid_ses.1001":               "_uid_ses.1001",
		"a b;c":                       "a b;c",
		"x\x1b[2J\ny\r\x07\u009b\x9b": `x\x1b[2J\ny\r\a\u009b\x9b`,
		`back\slash "quoted"`:         `back\\slash \"quoted\"`,
		"é":                           "é",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q; want %q", in, got, want)
		}
	}
	k := Key{Serial: 7, Type: "keyring", Name: "evil\n  \\_ 1 keyring \"_uid.0\"", UID: 0, Owner: "ro\x1bot", Perm: "3f030000", PermText: "p"}
	if got, want := Line(k), `7 keyring "evil\n  \\_ 1 keyring \"_uid.0\""  owner ro\x1bot (uid 0) gid 0 perm 3f030000 (p)`; got != want {
		t.Errorf("Line = %s; want %s", got, want)
	}
	v := Judge(Outcome{User: "alice", UID: 1001, Before: &Key{Serial: 7}, AfterOpen: &k})
	if strings.ContainsAny(v.Text, "\n\x1b") || !strings.Contains(v.Text, `kept the session keyring the process already had, evil\n  \\_ 1 keyring \"_uid.0\" (serial 7) owned by ro\x1bot (uid 0)`) {
		t.Errorf("verdict %q", v.Text)
	}
}
