package keyring

import (
	"fmt"
	"strings"
)

// Outcome is what a session open and close did to the session keyring.
type Outcome struct {
	User string // the target user
	UID  uint32
	// Before is @s as a child of the tool saw it before the open (nil if
	// unknown); AfterOpen is @s of the transaction's thread after the open;
	// AfterClose is that same keyring after the close (nil if not closed).
	Before, AfterOpen, AfterClose *Key
	OpenErr, CloseErr             string // PAM errors, "" for success
}

// Verdict judges an Outcome.
type Verdict struct {
	OK                bool   `json:"ok"`                  // the session keyring after open is the user's own
	Own               bool   `json:"own"`                 // owned by the user, and not a user-session keyring
	New               bool   `json:"new"`                 // not the one the process had before
	LinkedUserKeyring bool   `json:"linked_user_keyring"` // links the user's _uid.N
	RevokedAtClose    bool   `json:"revoked_at_close"`
	Text              string `json:"text"`
}

// Judge says in words what happened, e.g. "new session keyring _ses
// (serial 5) owned by alice (uid 1001), linked to alice's user keyring
// _uid.1001; revoked at close".
func Judge(o Outcome) Verdict {
	var v Verdict
	var parts []string
	if o.OpenErr != "" {
		parts = append(parts, "open_session failed: "+o.OpenErr)
	}
	a := o.AfterOpen
	if a == nil {
		v.Text = strings.Join(append(parts, "the session keyring after open is unknown"), "; ")
		return v
	}
	v.Own = a.Type == "keyring" && !a.Revoked && a.Error == "" && a.UID == o.UID && !a.IsUserSession()
	v.New = o.Before == nil || o.Before.Serial != a.Serial
	userRing := fmt.Sprintf("_uid.%d", o.UID)
	for _, l := range a.Links {
		if l.Name == userRing && l.UID == o.UID {
			v.LinkedUserKeyring = true
		}
	}
	parts = append(parts, describeAfterOpen(o, a, v))
	if v.Own {
		if v.LinkedUserKeyring {
			parts[len(parts)-1] += fmt.Sprintf(", linked to %s's user keyring %s", Escape(o.User), userRing)
		} else {
			parts[len(parts)-1] += fmt.Sprintf(", not linked to %s's user keyring %s (keys in @u are not found through @s)", Escape(o.User), userRing)
		}
	}
	if c := o.AfterClose; c != nil {
		v.RevokedAtClose = c.Revoked
		if c.Revoked {
			parts = append(parts, "revoked at close")
		} else if v.Own {
			parts = append(parts, "kept at close (no revoke: processes that outlive the session keep it)")
		}
	}
	if o.CloseErr != "" {
		parts = append(parts, "close_session failed: "+o.CloseErr)
	}
	v.OK = v.Own && o.OpenErr == ""
	v.Text = strings.Join(parts, "; ")
	return v
}

func describeAfterOpen(o Outcome, a *Key, v Verdict) string {
	name, user := Escape(a.Name), Escape(o.User)
	what := fmt.Sprintf("%s (serial %d) owned by %s", name, a.Serial, a.Who())
	switch {
	case a.Revoked:
		return fmt.Sprintf("the session keyring after open (serial %d) is revoked", a.Serial)
	case a.Error != "":
		return fmt.Sprintf("the session keyring after open (serial %d) cannot be read: %s", a.Serial, a.Error)
	case v.Own && v.New:
		return fmt.Sprintf("new session keyring %s (serial %d) owned by %s", name, a.Serial, user)
	case v.Own:
		return fmt.Sprintf("kept the session keyring the process already had, %s (serial %d), owned by %s", name, a.Serial, user)
	case a.IsUserSession():
		return fmt.Sprintf("no session keyring of its own after open: @s is the user-session keyring %s, shared by all processes of %s that have none; "+
			"no keyinit module made one for %s (none ran, or one without force found this keyring set): "+
			"add \"session optional pam_keyinit_go.so force revoke\" to the service, or force to its keyinit line", what, a.Who(), user)
	case !v.New:
		return fmt.Sprintf("kept the session keyring the process already had, %s, not %s's: "+
			"without force pam_keyinit leaves an existing session keyring alone (add force), or no keyinit module ran", what, user)
	}
	return fmt.Sprintf("new session keyring %s, not by %s (uid %d)", what, user, o.UID)
}
