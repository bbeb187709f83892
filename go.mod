module github.com/kekbit-go/kekbit

go 1.26.0

require (
	github.com/spf13/afero v1.15.0
	go.uber.org/multierr v1.11.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/leanovate/gopter v0.2.11 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/text v0.28.0 // indirect
)
