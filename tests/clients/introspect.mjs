// Introspects a server as graphql-js clients do (GraphiQL and its explorer among them) and
// builds the client-side schema from the answer. Usage: node introspect.mjs URL [graphiql]
// `graphiql` asks for everything GraphiQL asks for; without it, graphql-js's defaults.
import { buildClientSchema, getIntrospectionQuery } from 'graphql';

const [url, variant] = process.argv.slice(2);
if (!url) {
  console.error('usage: node introspect.mjs URL [graphiql]');
  process.exit(2);
}
const options =
  variant === 'graphiql'
    ? {
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
      }
    : {};
const response = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query: getIntrospectionQuery(options), operationName: 'IntrospectionQuery' }),
});
const body = await response.json();
if (!response.ok || body.errors) {
  console.error(JSON.stringify({ status: response.status, errors: body.errors }));
  process.exit(1);
}
const schema = buildClientSchema(body.data);
const types = Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith('__'));
console.log(JSON.stringify({ types: types.length, query: schema.getQueryType()?.name ?? null }));
