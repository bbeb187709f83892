module github.com/kekbit-go/kekbit

go 1.24

require go.uber.org/multierr v1.11.0 // indirect
