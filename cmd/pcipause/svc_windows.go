package main

// Under the SCM stderr goes nowhere: the service logs to a file.
const serviceNeedsLogFile = true
