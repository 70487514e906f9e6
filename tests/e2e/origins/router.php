<?php
// The oracle's PHP origin (tests/e2e/oracle/), run as `php -S 127.0.0.1:PORT router.php` with ORACLE_ROUTES (the
// route table) and ORACLE_SEEN (a file each request's `x-oracle-id` is appended to) in the environment.
//
// It reads a request the way a PHP framework does and echoes that reading as JSON:
// - the request URI as Laminas/Zend's `detectRequestUri` takes it: `X-Original-URL` (IIS URL Rewrite), else
//   `X-Rewrite-URL` (ISAPI_Rewrite), else REQUEST_URI;
// - the path a router dispatches: `rawurldecode` of it, trimmed of `/` on both ends (Symfony's and Laravel's
//   routers match the decoded path; Laravel trims slashes), matched case-sensitively against routes.json;
// - the method as Symfony's `Request::getMethod()` with Laravel's `enableHttpMethodParameterOverride()`: for a POST,
//   the `X-HTTP-Method-Override` header, else `_method` from the body ($_POST), else from the query ($_GET);
// - the token: `$_COOKIE['oracle_session']` and `$_GET['oracle_token']` (PHP's own parsing, name mangling included).
// Unrouted: 404.

$id = $_SERVER['HTTP_X_ORACLE_ID'] ?? '-';
file_put_contents(getenv('ORACLE_SEEN'), $id . "\n", FILE_APPEND | LOCK_EX);
header('x-oracle-origin: php');
header('content-type: application/json');

$uri = $_SERVER['REQUEST_URI'];
if (isset($_SERVER['HTTP_X_ORIGINAL_URL'])) {
    $uri = $_SERVER['HTTP_X_ORIGINAL_URL'];
} elseif (isset($_SERVER['HTTP_X_REWRITE_URL'])) {
    $uri = $_SERVER['HTTP_X_REWRITE_URL'];
}
$path = explode('?', $uri, 2)[0];
$dispatched = '/' . trim(rawurldecode($path), '/');

$method = strtoupper($_SERVER['REQUEST_METHOD']);
if ($method === 'POST') {
    if (isset($_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'])) {
        $method = strtoupper($_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE']);
    } elseif (isset($_POST['_method']) && is_string($_POST['_method'])) {
        $method = strtoupper($_POST['_method']);
    } elseif (isset($_GET['_method']) && is_string($_GET['_method'])) {
        $method = strtoupper($_GET['_method']);
    }
}

function pattern(array $route): string
{
    if (isset($route['exact'])) {
        return '#^' . preg_quote($route['exact'], '#') . '$#';
    }
    if (isset($route['prefix'])) {
        return '#^' . preg_quote($route['prefix'], '#') . '(/.*)?$#';
    }
    $parts = array_map(fn ($s) => $s === '*' ? '[^/]+' : preg_quote($s, '#'), explode('/', $route['glob']));
    return '#^' . implode('/', $parts) . '$#';
}

$table = json_decode(file_get_contents(getenv('ORACLE_ROUTES')), true);
$matched = null;
foreach ($table['routes'] as $route) {
    if (preg_match(pattern($route), $dispatched)) {
        $matched = $route['name'];
        break;
    }
}

http_response_code($matched === null ? 404 : 200);
echo json_encode([
    'origin' => 'php',
    'route' => $matched,
    'method' => $method,
    'raw_method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $dispatched,
    'request_uri' => $_SERVER['REQUEST_URI'],
    'cookie_token' => $_COOKIE['oracle_session'] ?? null,
    'query_token' => $_GET['oracle_token'] ?? null,
], JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
