// What an integrator does with the jiangcheng package: decide, screen bidders, read a profile.
//
//	JC_URL=http://127.0.0.1:8080 JC_KEY=jc_… go run ./example tour
//	JC_URL=… JC_KEY=… go run ./example decide 91230200MA1B2C3D8T construction_bidding --times 3
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"jiangcheng.example/client/jiangcheng"
)

// The demo lists' subjects: a company listed as a dishonest judgement debtor, one on the wage
// arrears list, one on no list, and an identifier one character short.
const (
	listed = "91230200MA1B2C3D8T"
	matter = "construction_bidding"
)

var bidders = []string{"912302061276543275", "91230200MA1B2C3D8U", "9123020MA1B2C3D8T"}

func main() {
	// Retries are logged on stderr.
	log.SetFlags(0)
	log.SetPrefix("jiangcheng_client: ")
	args := os.Args[1:]
	times := 1
	if len(args) == 5 && args[0] == "decide" && args[3] == "--times" {
		n, err := strconv.Atoi(args[4])
		if err != nil {
			usage()
		}
		times, args = n, args[:3]
	}
	client := jiangcheng.FromEnvironment()
	ctx := context.Background()
	var err error
	switch {
	case len(args) == 1 && args[0] == "tour":
		if _, err = printDecision(ctx, client, listed, matter); err == nil {
			if err = printBatch(ctx, client, matter, bidders); err == nil {
				if err = printProfile(ctx, client, listed); err == nil {
					_, err = printDecision(ctx, client, bidders[2], matter)
				}
			}
		}
	case len(args) == 3 && args[0] == "decide":
		for i := 0; i < times && err == nil; i++ {
			var decided bool
			if decided, err = printDecision(ctx, client, args[1], args[2]); err == nil && !decided {
				os.Exit(1)
			}
		}
	default:
		usage()
	}
	if err != nil {
		var apiErr *jiangcheng.APIError
		if errors.As(err, &apiErr) {
			fmt.Fprintln(os.Stderr, "jiangcheng answered", apiErr)
		} else {
			fmt.Fprintln(os.Stderr, "could not reach jiangcheng:", err)
		}
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: example tour | decide SUBJECT_ID MATTER [--times N]")
	os.Exit(2)
}

// printDecision prints a decision, or the error answer naming its fields (then false).
func printDecision(ctx context.Context, client *jiangcheng.Client, subjectID, matter string) (bool, error) {
	decision, err := client.Decide(ctx, subjectID, matter)
	var apiErr *jiangcheng.APIError
	if errors.As(err, &apiErr) {
		fmt.Printf("decide %s in %s: error %d %s\n", subjectID, matter, apiErr.Status, apiErr.Code)
		for _, field := range apiErr.Errors {
			fmt.Printf("  field %s: %s\n", field.Field, field.Message)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fmt.Printf("decide %s in %s: %s (%s)\n", subjectID, matter, decision.Decision, decision.DecisionLabel)
	for _, reason := range decision.Reasons {
		fmt.Printf("  reason %s %s (list %s, entry %s)\n", reason.Effect, reason.Measure, reason.List, reason.EntryID)
	}
	return true, nil
}

func printBatch(ctx context.Context, client *jiangcheng.Client, matter string, subjectIDs []string) error {
	batch, err := client.DecideBatch(ctx, matter, subjectIDs)
	if err != nil {
		return err
	}
	s := batch.Summary
	fmt.Printf("batch %s: %d bidders, block %d, flag %d, allow %d, invalid %d\n",
		matter, len(subjectIDs), s["block"], s["flag"], s["allow"], s["invalid"])
	for i, item := range batch.Results {
		if item.Error != nil {
			fmt.Printf("  [%d] %s: invalid %s: %s\n", i, subjectIDs[i], item.Error.Code, item.Error.Detail)
			continue
		}
		measures := make([]string, len(item.Reasons))
		for j, reason := range item.Reasons {
			measures[j] = reason.Measure
		}
		suffix := ""
		if len(measures) > 0 {
			suffix = " (" + strings.Join(measures, ", ") + ")"
		}
		fmt.Printf("  [%d] %s: %s%s\n", i, subjectIDs[i], item.Decision.Decision, suffix)
	}
	return nil
}

func printProfile(ctx context.Context, client *jiangcheng.Client, subjectID string) error {
	profile, err := client.SubjectProfile(ctx, subjectID)
	if err != nil {
		return err
	}
	fmt.Printf("profile %s (%s %s): %d entries\n", profile.Subject.ID, profile.Subject.Kind, profile.Subject.KindLabel, len(profile.Entries))
	for _, entry := range profile.Entries {
		fmt.Printf("  %s %s %s %s..%s dispute %s\n", entry.EntryID, entry.List, entry.State, entry.ListedOn, entry.ValidUntil, entry.Dispute)
	}
	return nil
}
