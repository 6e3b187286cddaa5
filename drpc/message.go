package drpc

import drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"

// Call is a dRPC request: module and method IDs, a sequence number and the
// marshalled request body.
type Call = drpcv1.Call

// Response is a dRPC reply: the call's sequence number, a status and, with
// StatusSuccess only, the marshalled reply body.
type Response = drpcv1.Response

// Status is the outcome of a dRPC call.
type Status = drpcv1.Status

// The statuses of the dRPC wire protocol.
const (
	StatusSuccess                = drpcv1.Status_STATUS_SUCCESS
	StatusSubmitted              = drpcv1.Status_STATUS_SUBMITTED
	StatusFailure                = drpcv1.Status_STATUS_FAILURE
	StatusUnknownModule          = drpcv1.Status_STATUS_UNKNOWN_MODULE
	StatusUnknownMethod          = drpcv1.Status_STATUS_UNKNOWN_METHOD
	StatusFailedUnmarshalCall    = drpcv1.Status_STATUS_FAILED_UNMARSHAL_CALL
	StatusFailedUnmarshalPayload = drpcv1.Status_STATUS_FAILED_UNMARSHAL_PAYLOAD
	StatusFailedMarshal          = drpcv1.Status_STATUS_FAILED_MARSHAL
)
