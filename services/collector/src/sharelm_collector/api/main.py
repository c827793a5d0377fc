from fastapi import APIRouter

from sharelm_collector.api.routes import contributors, conversations, export, health, plugin

api_router = APIRouter()
api_router.include_router(plugin.router)
api_router.include_router(contributors.router)
api_router.include_router(conversations.router)
api_router.include_router(export.router)
api_router.include_router(health.router)
