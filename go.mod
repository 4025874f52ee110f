module pam_keyinit_go

go 1.26.8

require golang.org/x/sys v0.50.0

require github.com/msteinert/pam/v2 v2.1.0
