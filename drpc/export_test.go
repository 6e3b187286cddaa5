package drpc

// HangupWatchDelay exposes hangupWatchDelay to the black-box tests.
const HangupWatchDelay = hangupWatchDelay
