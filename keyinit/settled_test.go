package keyinit

import "testing"

// State.Settled says a hook of the handle succeeded, whether it made the
// keyring or kept one; a failure leaves it unset (a forked child must then
// not claim success from C).
func TestSettledOnlyAfterSuccess(t *testing.T) {
	made := newFixture()
	if made.open("force") != Success || !made.st.Settled || made.st.Serial == 0 {
		t.Errorf("after making a keyring: state %+v; want settled with a serial", made.st)
	}

	kept := newFixture()
	kept.host.user = "root"
	kept.keys.session["main"] = kept.keys.newKey("host's own", 0, 0, permSession).serial
	if kept.open() != Success || !kept.st.Settled || kept.st.Serial != 0 {
		t.Errorf("after keeping root's own keyring: state %+v; want settled without a serial", kept.st)
	}

	failed := newFixture()
	failed.host.user = "nobody-here"
	if failed.open("force") != UserUnknown || failed.st.Settled {
		t.Errorf("after an unknown user: state %+v; want not settled", failed.st)
	}
}
