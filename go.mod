module github.com/kekbit-go/kekbit

go 1.26.0

require (
	go.uber.org/multierr v1.11.0
	golang.org/x/sys v0.50.0
)
