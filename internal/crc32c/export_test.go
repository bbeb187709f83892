package crc32c

// RecordGeneric is recordGeneric, for the tests.
var RecordGeneric = recordGeneric

// PayloadGeneric is payloadGeneric, for the tests.
var PayloadGeneric = payloadGeneric
