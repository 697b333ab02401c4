package events

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed scripts/ack.lua
	ackSrc string
	//go:embed scripts/fail.lua
	failSrc string
	//go:embed scripts/trim.lua
	trimSrc string
	//go:embed scripts/gap.lua
	gapSrc string

	ackScript  = redis.NewScript(ackSrc)
	failScript = redis.NewScript(failSrc)
	trimScript = redis.NewScript(trimSrc)
	gapScript  = redis.NewScript(gapSrc)
)

// Script result codes of fail.lua.
const (
	failMovedUnderUs = 0
	failRetryLater   = 1
	failDeadLettered = 2
)
