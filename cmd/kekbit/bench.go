package main

import (
	"github.com/spf13/cobra"
)

func newBench() *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Short:  "Measure a writer and readers across processes (not yet built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("bench is not built yet")
		},
	}
}
