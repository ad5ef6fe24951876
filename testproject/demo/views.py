from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def signin_page(request):
    return render(request, "demo/signin.html")
