"""A baseline written from the public ShareLM reference backend's description (`shared/docs/sharelm.md`,
"The reference backend"), for measuring the collector beside it. Benchmark code only: not shipped in the
package."""
