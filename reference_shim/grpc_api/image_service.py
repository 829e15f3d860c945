"""gRPC ``runtime.v1.ImageService``: request in, the CRI layer, response out."""

from __future__ import annotations

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from reference_shim.cri.images import Images
from reference_shim.grpc_api.statuses import rpc


class ImageService(cri_grpc.ImageServiceServicer):
    def __init__(self, images: Images) -> None:
        self._images = images

    @rpc
    def ListImages(
        self, request: cri.ListImagesRequest, context: grpc.ServicerContext
    ) -> cri.ListImagesResponse:
        return self._images.list(request)

    @rpc
    def ImageStatus(
        self, request: cri.ImageStatusRequest, context: grpc.ServicerContext
    ) -> cri.ImageStatusResponse:
        return self._images.status(request)

    @rpc
    def PullImage(
        self, request: cri.PullImageRequest, context: grpc.ServicerContext
    ) -> cri.PullImageResponse:
        return cri.PullImageResponse(image_ref=self._images.pull(request))

    @rpc
    def RemoveImage(
        self, request: cri.RemoveImageRequest, context: grpc.ServicerContext
    ) -> cri.RemoveImageResponse:
        self._images.remove(request)
        return cri.RemoveImageResponse()

    @rpc
    def ImageFsInfo(
        self, request: cri.ImageFsInfoRequest, context: grpc.ServicerContext
    ) -> cri.ImageFsInfoResponse:
        return self._images.fs_info()
