// Package keyring reads kernel keyrings as trees (serial, name, owner,
// permissions, links), judges what a PAM transaction did to the session
// keyring, and says which key quotas are nearly used up. The kernel is
// behind a small interface so the logic is tested with fakes.
package keyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/keys"
)

// Key is one key or keyring as the calling thread sees it.
type Key struct {
	Serial   int    `json:"serial"`
	Type     string `json:"type,omitempty"`
	Name     string `json:"name,omitempty"`
	UID      uint32 `json:"uid"`             // meaningful unless Revoked or Error
	Owner    string `json:"owner,omitempty"` // the user name of UID, when known
	GID      uint32 `json:"gid"`
	Perm     string `json:"perm,omitempty"`      // hexadecimal, as keyctl shows it
	PermText string `json:"perm_text,omitempty"` // the same, spelled out
	Revoked  bool   `json:"revoked,omitempty"`
	Error    string `json:"error,omitempty"` // why it could not be described
	Links    []Key  `json:"links,omitempty"` // for keyrings: the keys it links
}

// Kernel is the part of keyctl(2) a tree needs. Each call acts on the
// calling thread's keyrings.
type Kernel interface {
	// Resolve turns a special id (-3 for @s, ...) into a serial without
	// creating anything. Resolving @s in a thread with none installs the
	// user-session keyring there: only call it when that is fine.
	Resolve(special int) (int, error)
	// Describe returns KEYCTL_DESCRIBE's "type;uid;gid;perm;name".
	Describe(serial int) (string, error)
	// Read returns the serials a keyring links (KEYCTL_READ).
	Read(serial int) ([]int, error)
}

// MaxDepth bounds how deep Tree follows links.
const MaxDepth = 4

// Tree describes serial and, for a keyring, what it links, down to depth
// levels. names maps uids to user names (nil: none).
func Tree(k Kernel, serial, depth int, names func(uint32) string) Key {
	return tree(k, serial, depth, names, map[int]bool{})
}

func tree(k Kernel, serial, depth int, names func(uint32) string, seen map[int]bool) Key {
	key := Describe(k, serial)
	if names != nil && key.Type != "" {
		key.Owner = names(key.UID)
	}
	if key.Type != "keyring" || depth <= 0 || seen[serial] {
		return key
	}
	seen[serial] = true
	links, err := k.Read(serial)
	if err != nil {
		key.Error = fmt.Sprintf("cannot read its links: %v", err)
		return key
	}
	for _, l := range links {
		key.Links = append(key.Links, tree(k, l, depth-1, names, seen))
	}
	return key
}

// Describe describes one key without its links.
func Describe(k Kernel, serial int) Key {
	key := Key{Serial: serial}
	d, err := k.Describe(serial)
	if errors.Is(err, unix.EKEYREVOKED) {
		key.Revoked = true
		return key
	}
	if err != nil {
		key.Error = err.Error()
		return key
	}
	desc, err := keys.ParseDescription([]byte(d))
	if err != nil {
		key.Error = fmt.Sprintf("unexpected description %q", d)
		return key
	}
	key.Type, key.UID, key.GID, key.Name = desc.Type, desc.UID, desc.GID, desc.Name
	key.Perm, key.PermText = fmt.Sprintf("%08x", desc.Perm), PermText(desc.Perm)
	return key
}

// IsUserSession says whether a key is a user-session keyring (_uid_ses.N):
// what a thread without a session keyring of its own gets for @s.
func (k Key) IsUserSession() bool { return strings.HasPrefix(k.Name, "_uid_ses.") }

// Who is "alice (uid 1001)", or "uid 1001" when the name is unknown.
func (k Key) Who() string {
	if k.Owner != "" {
		return fmt.Sprintf("%s (uid %d)", Escape(k.Owner), k.UID)
	}
	return fmt.Sprintf("uid %d", k.UID)
}

// PermText spells out a key permission mask as keyctl does, per class:
// "possessor=alswrv user=----rv group=------ other=------".
func PermText(perm uint32) string {
	var parts []string
	for i, class := range []string{"possessor", "user", "group", "other"} {
		bits := perm >> (24 - 8*i)
		var b strings.Builder
		for j, c := range "alswrv" {
			if bits&(0x20>>j) != 0 {
				b.WriteRune(c)
			} else {
				b.WriteByte('-')
			}
		}
		parts = append(parts, class+"="+b.String())
	}
	return strings.Join(parts, " ")
}

// MarshalJSON leaves out the fields a key that could not be described does
// not have: a revoked key's owner is unknown, not uid 0.
func (k Key) MarshalJSON() ([]byte, error) {
	type plain Key
	if k.Type != "" {
		return json.Marshal(plain(k))
	}
	return json.Marshal(struct {
		Serial  int    `json:"serial"`
		Revoked bool   `json:"revoked,omitempty"`
		Error   string `json:"error,omitempty"`
	}{k.Serial, k.Revoked, k.Error})
}
