// Package appplatform is hotpool's pool.Provider over DigitalOcean's App
// Platform API (godo): it creates one app per sandbox from its pool's
// template, lists the apps this deployment owns (paginated, one call a page),
// gets and deletes them, classifies every answer (active, in progress,
// failed, gone, or unknown), asks an app's health path, and keeps every API
// call inside one Redis-backed budget shared by all function instances.
//
// It owns app naming and ownership (the HOTPOOL_* env of each app), the
// shared rate limiter (Budget, one Lua script), and godo's retry tuning. It
// holds no pool state: Redis records belong to internal/redisstate. It never
// logs a token.
package appplatform
